"""Entry of the RunPod CLI project mode (runpod.toml ``handler_path``): runs ``python -m handler``.

``runpodctl project dev/deploy`` starts ``python -u <project>/<handler_path>`` inside a fresh venv
that only has ``requirements/worker.txt``. This script puts the project root on ``sys.path`` (a
script's own folder is what Python adds) and appends the worker image's site-packages (CUDA torch,
ComfyUI's requirements, the node packs' dependencies) after the venv's, then runs the handler
package as ``__main__``. Image-based endpoints never use it: their command is comfy_image/start.sh.
"""

from __future__ import annotations

import os
import runpy
import site
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE_VENV = Path(os.environ.get("IMAGE_VENV", "/opt/venv"))


def prepare_path(root: Path = ROOT, image_venv: Path = IMAGE_VENV) -> None:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    image_site = image_venv / "lib" / version / "site-packages"
    if image_site.is_dir() and str(image_site) not in sys.path:
        site.addsitedir(str(image_site))  # appended: the project venv's own packages win


if __name__ == "__main__":
    prepare_path()
    runpy.run_module("handler", run_name="__main__", alter_sys=True)
