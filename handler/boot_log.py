"""ComfyUI's start-up chatter, cut to what an operator needs while its nodes load (one screen of output).

ComfyUI logs through the root logger. While ``quiet_boot()`` is active, a filter on that logger turns each
optional node module that cannot import here (``nodes_audio.py`` without torchaudio, ...) into one line instead
of a traceback plus a summary block, drops the per-folder "Adding extra search path" lines (comfy_boot logs
the file once), the custom-node import timings, and repeats of a line already shown. Errors pass unchanged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePath

CANNOT_IMPORT = re.compile(r"^Cannot import (?P<path>.+?) module for custom nodes: (?P<error>.*)$", re.S)
DROPPED = (
    "Traceback (most recent call last)",
    "Adding extra search path ",
    "WARNING: some comfy_extras/ nodes did not import",
    "WARNING: some comfy_api_nodes/ nodes did not import",
    "IMPORT FAILED: ",
    "\nThis issue might be caused by new missing dependencies",
    "Please do a: pip install",
    "Please run the update script",
    "\nImport times for custom nodes:",
)
TIMING = re.compile(r"^\s+\d+\.\d+ seconds( \(IMPORT FAILED\))?: ")


class BootLogFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        message = record.getMessage()
        if not message.strip() or message.startswith(DROPPED) or TIMING.match(message):
            return False
        found = CANNOT_IMPORT.match(message)
        if found:
            error = found.group("error").strip().splitlines()[-1] if found.group("error").strip() else "import error"
            record.msg, record.args = "optional node module not loaded: %s (%s)", (PurePath(found["path"]).name, error)
            message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


@contextmanager
def quiet_boot() -> Iterator[BootLogFilter]:
    root = logging.getLogger()
    boot_filter = BootLogFilter()
    root.addFilter(boot_filter)
    try:
        yield boot_filter
    finally:
        root.removeFilter(boot_filter)
