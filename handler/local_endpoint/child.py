"""The worker process: the real ``handler.worker.Worker`` running one job at a time for the endpoint.

Protocol over a ``multiprocessing`` pipe (pickled tuples):
  parent -> child: ("job", job_dict) | ("cancel", job_id, error_code) | ("stop",)
  child -> parent: ("ready", pid) | ("boot_failed", message) | ("progress", job_id, data) | ("result", job_id, result)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from handler import logs
from handler.settings import WorkerSettings
from workflows.contract import RETRYABLE, USER_MESSAGES, ErrorCode, ErrorInfo
from workflows.redact import secret_values

log = logging.getLogger("handler.local_endpoint.child")


def error_result(code: ErrorCode, message: str | None = None, **details: Any) -> dict[str, Any]:
    """A handler result ending a job with ``code``, shaped as the worker's own failures are."""
    info = ErrorInfo(code=code, message=message or USER_MESSAGES[code], retryable=RETRYABLE[code], details=details)
    return {"error": info.model_dump_json()}


def child_main(conn: Connection, settings: WorkerSettings, env: dict[str, str]) -> None:
    """Entry point of a spawned worker process."""
    os.environ.update(env)
    # spawn hands over the parent's sys.path; a parent that once imported ComfyUI has ComfyUI's folders first on
    # it, where comfy/utils.py shadows the utils package the engine imports. Start from a clean path.
    comfy_root = settings.comfyui_path.resolve()
    sys.path[:] = [entry for entry in sys.path if not _inside(entry, comfy_root)]
    logs.configure(settings.log_level, settings.log_json, secret_values(settings))
    try:
        asyncio.run(_serve(conn, settings))
    finally:
        conn.close()


def _inside(entry: str, root: Path) -> bool:
    try:
        return Path(entry or ".").resolve().is_relative_to(root)
    except OSError:
        return False


class _Channel:
    """Sends to the parent from the event loop and from the engine thread (progress) alike."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, *message: Any) -> None:
        with self._lock:
            self._conn.send(message)


async def _serve(conn: Connection, settings: WorkerSettings) -> None:
    from handler.worker import Worker  # imported here: the parent process never loads ComfyUI

    channel = _Channel(conn)
    worker = Worker(settings, progress_sink=lambda job, data: channel.send("progress", job["id"], data))
    try:
        await worker.start()
    except Exception as exc:
        log.exception("worker failed to boot")
        channel.send("boot_failed", f"{type(exc).__name__}: {exc}")
        return
    inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    precancelled: dict[str, ErrorCode] = {}
    current: list[str] = []  # the id being handled, if any (one job at a time)
    loop = asyncio.get_running_loop()

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = ("stop",)
            if message[0] == "job":
                loop.call_soon_threadsafe(inbox.put_nowait, message[1])
            elif message[0] == "cancel":
                job_id, code = message[1], ErrorCode(message[2])
                if job_id in current:
                    worker.cancel(job_id, code)
                else:  # not started yet: it must never start
                    precancelled[job_id] = code
            else:
                loop.call_soon_threadsafe(inbox.put_nowait, None)
                return

    threading.Thread(target=read, name="endpoint-pipe", daemon=True).start()
    channel.send("ready", os.getpid())
    while (job := await inbox.get()) is not None:
        job_id = job["id"]
        current.append(job_id)
        try:
            if job_id in precancelled:
                result = error_result(precancelled.pop(job_id))
            else:
                result = await worker.handle(job)
        finally:
            current.clear()
        if _stuck(result):  # the engine thread is still busy with the interrupted job: this process is spent
            result["refresh_worker"] = True
        channel.send("result", job_id, result)


def _stuck(result: dict[str, Any]) -> bool:
    """Whether the worker gave up waiting for an interrupted run (its error's ``details.stuck``)."""
    try:
        error = json.loads(result["error"]) if isinstance(result.get("error"), str) else None
    except ValueError:
        return False
    return isinstance(error, dict) and bool(error.get("details", {}).get("stuck"))
