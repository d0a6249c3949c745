"""Where one job's files live: its own input, output and temp folders, removed as a whole after delivery."""

from __future__ import annotations

import contextlib
import re
import shutil
import time
import unicodedata
import uuid
from pathlib import Path

from PIL import Image

from handler.errors import ErrorCode, JobError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
FOLDERS = ("input", "output", "temp")


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
    """Owns ``<jobs_root>/job-<id>-<random>/{input,output,temp}``: ComfyUI's three folders while this job runs.

    The random part makes every run's folder new, even for a reused job id whose previous folder is still being
    removed.

    Only files staged here (``staged``) may be loaded by the job's graph (handler.file_inputs).
    """

    def __init__(self, job_id: str, jobs_root: Path) -> None:
        self.subfolder = f"job-{_UNSAFE.sub('_', job_id)[:80]}-{uuid.uuid4().hex[:8]}"
        self.root = jobs_root / self.subfolder
        self.input_dir = self.root / "input"
        self.output_dir = self.root / "output"
        self.temp_dir = self.root / "temp"
        self.staged: dict[str, tuple[int, int]] = {}  # staged file name -> (width, height)
        self._requested: dict[str, str] = {}  # staged file name -> the name the job gave it

    @property
    def dirs(self) -> dict[str, Path]:
        return {"input": self.input_dir, "output": self.output_dir, "temp": self.temp_dir}

    def create(self) -> None:
        self.input_dir.mkdir(parents=True)  # input nodes list it while the graph is checked
        self.output_dir.mkdir()
        # temp/ is made by ComfyUI's own save path on the first preview: most jobs never need it.

    def stage_image(self, name: str, image: Image.Image) -> str:
        """Write a checked image as PNG; returns the name a LoadImage node uses to load it."""
        filename = Path(safe_name(name)).stem + ".png"
        if filename in self._requested:
            raise JobError(
                ErrorCode.INVALID_INPUT,
                f"Images {self._requested[filename]!r} and {name!r} would be stored under the same name "
                f"{filename!r}; give every image a distinct name.",
                field="images.name",
            )
        self.input_dir.mkdir(parents=True, exist_ok=True)
        image.save(self.input_dir / filename, format="PNG", compress_level=1)
        self.staged[filename] = image.size
        self._requested[filename] = name
        return filename

    def stage_alias(self, requested: str, staged: str) -> dict[str, str]:
        """Map the names a workflow may use for an image (as sent, sanitised) to its staged name."""
        return {requested: staged, safe_name(requested): staged}

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def remove_stale(jobs_root: Path, older_than_s: float) -> None:
    """Remove job folders untouched for longer than any job may run (left by a killed process).

    Worker processes may share ``jobs_root`` (the local endpoint runs one per GPU): a fresh folder may belong to a
    sibling's running job, so only old ones go.
    """
    if not jobs_root.is_dir():
        return
    cutoff = time.time() - older_than_s
    for entry in jobs_root.iterdir():
        with contextlib.suppress(OSError):
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
