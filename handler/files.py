"""Where one job's files live: its own input and output subfolders inside ComfyUI's folders."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

from PIL import Image

from handler.errors import ErrorCode, JobError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, default_suffix: str = ".png") -> str:
    """A file name that cannot escape a folder: no separators, no dot-dot, ASCII only."""
    base = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = base.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip("._")[:120]
    if not base:
        raise JobError(ErrorCode.INVALID_INPUT, f"Image name {name!r} is not usable.", field="images.name")
    if "." not in base:
        base += default_suffix
    return base


class JobFiles:
    """Owns ``input/job-<id>/`` and ``output/job-<id>/`` for one job and removes the inputs afterwards."""

    def __init__(self, job_id: str, input_dir: Path, output_dir: Path) -> None:
        self.subfolder = "job-" + _UNSAFE.sub("_", job_id)[:80]
        self.input_dir = input_dir / self.subfolder
        self.output_dir = output_dir / self.subfolder

    @property
    def filename_prefix(self) -> str:
        """Prefix for every save node, so outputs of this job land in (and are found in) its own folder."""
        return f"{self.subfolder}/"

    def stage_image(self, name: str, image: Image.Image) -> str:
        """Write a checked image as PNG; returns the name a LoadImage node uses to load it."""
        filename = Path(safe_name(name)).stem + ".png"
        self.input_dir.mkdir(parents=True, exist_ok=True)
        image.save(self.input_dir / filename, format="PNG", compress_level=1)
        return f"{self.subfolder}/{filename}"

    def stage_alias(self, requested: str, staged: str) -> dict[str, str]:
        """Map the names a workflow may use for an image (as sent, sanitised) to its staged name."""
        return {requested: staged, safe_name(requested): staged}

    def cleanup_inputs(self) -> None:
        shutil.rmtree(self.input_dir, ignore_errors=True)

    def cleanup_outputs(self) -> None:
        shutil.rmtree(self.output_dir, ignore_errors=True)
