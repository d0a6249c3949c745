"""comfy_image/project_entry.py: the RunPod CLI project mode sees the repo and the image's packages, venv first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from handler.settings import REPO_ROOT

PROBE = """
import json, runpy, sys
from pathlib import Path
entry = runpy.run_path(sys.argv[1])
entry["prepare_path"](root=Path(sys.argv[2]), image_venv=Path(sys.argv[3]))
import only_in_image, handler.settings
print(json.dumps({"image": only_in_image.WHERE, "handler": handler.settings.__file__, "path": sys.path}))
"""


def test_repo_root_first_image_site_packages_appended(tmp_path: Path) -> None:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = tmp_path / "image-venv" / "lib" / version / "site-packages"
    site.mkdir(parents=True)
    (site / "only_in_image.py").write_text("WHERE = 'image'\n")
    script = REPO_ROOT / "comfy_image" / "project_entry.py"

    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(script), str(REPO_ROOT), str(tmp_path / "image-venv")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["image"] == "image"
    assert data["handler"].startswith(str(REPO_ROOT))
    assert data["path"].index(str(REPO_ROOT)) < data["path"].index(str(site))
    own_site = next(p for p in data["path"] if p.endswith("site-packages") and p != str(site))
    assert data["path"].index(own_site) < data["path"].index(str(site))
