"""While a raw workflow runs, its nodes may write only inside the job's own folder and read no other job's files.

The input checks (handler/file_inputs.py) see only what input definitions declare; a node that builds a path
from a free-text input (ComfyUI's own SaveImageDataSetToFolder joins its ``folder_name`` STRING onto the output
folder) or from a dict-wrapped value is only visible when it touches the filesystem. Python's audit hooks see
every ``open``, ``mkdir``, ``rename``, ``remove`` ... made through Python: on the engine thread, for the time a
raw workflow executes, a write outside the job's folder, or a read or listing of anything else under WORK_DIR
(other jobs, the idle folders), raises :class:`SandboxViolation` inside the node, which fails the job with
INVALID_INPUT (handler/engine_errors.py).

Not covered: files opened by C code without going through Python (an ffmpeg or OpenCV call given a path), and
threads a node starts itself. Audit hooks cannot be removed, so one is installed per process and does nothing
unless a job is active on the calling thread.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Events whose first argument(s) are paths being created, changed or removed (CPython's audit events table).
_WRITES = {
    "os.mkdir": 1,
    "os.rename": 2,
    "os.remove": 1,
    "os.rmdir": 1,
    "os.symlink": 2,
    "os.link": 2,
    "os.truncate": 1,
    "os.chmod": 1,
    "os.chown": 1,
    "os.utime": 1,
    "shutil.copyfile": 2,
    "shutil.copytree": 2,
    "shutil.move": 2,
    "shutil.rmtree": 1,
    "tempfile.mkstemp": 1,
    "tempfile.mkdtemp": 1,
}
_READS = {"os.listdir", "os.scandir"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class SandboxViolation(PermissionError):
    """A node touched a file the job may not: raised inside the node, reported as INVALID_INPUT."""


@dataclass(frozen=True)
class _Scope:
    thread: int
    job_root: str
    work_dir: str


_active: _Scope | None = None
_installed = False


def _resolve(path: Any) -> str | None:
    """The absolute real path an argument names; None for a file descriptor (already opened and checked)."""
    if isinstance(path, int) or path is None:
        return None
    try:
        return os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _check(scope: _Scope, event: str, args: tuple[Any, ...]) -> None:
    if event == "open":
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writing = bool(flags & _WRITE_FLAGS) or any(c in str(args[1] or "") for c in "wax+")
        paths = [args[0]]
    elif event in _WRITES:
        writing, paths = True, list(args[: _WRITES[event]])
    elif event in _READS:
        writing, paths = False, [args[0]]
    else:
        return
    for raw in paths:
        path = _resolve(raw)
        if path is None or _inside(path, scope.job_root):
            continue
        if writing or _inside(path, scope.work_dir):
            verb = "write" if writing else "read"
            raise SandboxViolation(f"a workflow may not {verb} {os.fsdecode(raw)!r}: only this job's own files")


def _hook(event: str, args: tuple[Any, ...]) -> None:
    scope = _active
    if scope is None or scope.thread != threading.get_ident():
        return
    if event == "open" or event in _WRITES or event in _READS:
        _check(scope, event, args)


def install() -> None:
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


@contextlib.contextmanager
def confined(job_root: Path, work_dir: Path) -> Iterator[None]:
    """For the calling thread, while the block runs: writes only under ``job_root``, no other reads of WORK_DIR."""
    global _active
    install()
    _active = _Scope(threading.get_ident(), os.path.realpath(job_root), os.path.realpath(work_dir))
    try:
        yield
    finally:
        _active = None
