"""Worker processes, one job at a time each, spawned fresh and replaced when they die or hang."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import subprocess
import threading
from enum import StrEnum
from multiprocessing.connection import Connection
from typing import Any, Protocol

from handler.local_endpoint.child import child_main
from handler.settings import WorkerSettings

log = logging.getLogger("handler.local_endpoint.pool")
_SPAWN = multiprocessing.get_context("spawn")


class SlotState(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    RETIRING = "retiring"  # being replaced by a fresh process
    UNHEALTHY = "unhealthy"
    STOPPED = "stopped"


class PoolListener(Protocol):
    """What the queue hears from its workers; always called on the event loop."""

    def worker_ready(self, slot: WorkerSlot) -> None: ...
    def worker_progress(self, slot: WorkerSlot, job_id: str, data: Any) -> None: ...
    def worker_result(self, slot: WorkerSlot, job_id: str, result: Any) -> None: ...
    def worker_exited(self, slot: WorkerSlot, job_id: str | None, detail: str) -> None: ...


def gpu_count() -> int:
    """Visible NVIDIA GPUs, without importing torch into the endpoint process."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


def device_envs(workers: int | None) -> list[dict[str, str]]:
    """One environment per worker process: each GPU gets its own process, or one CPU process."""
    gpus = gpu_count()
    count = workers if workers is not None else max(gpus, 1)
    if gpus == 0:
        return [{} for _ in range(count)]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [d.strip() for d in visible.split(",")] if visible else [str(i) for i in range(gpus)]
    return [{"CUDA_VISIBLE_DEVICES": ids[i % len(ids)]} for i in range(count)]


class WorkerSlot:
    """One worker process seat. ``generation`` changes with every respawn so late messages of a dead
    process are ignored."""

    def __init__(self, index: int, settings: WorkerSettings, env: dict[str, str], listener: PoolListener) -> None:
        self.index = index
        self.state = SlotState.STOPPED
        self.job_id: str | None = None  # the job the process is working on (possibly being stopped)
        self.pid: int | None = None
        self.generation = 0
        self.boot_failures = 0
        self._settings = settings
        self._env = env
        self._listener = listener
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def worker_id(self) -> str:
        return f"local-{self.index}-{self.pid}"

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.generation += 1
        parent_conn, child_conn = _SPAWN.Pipe(duplex=True)
        process = _SPAWN.Process(
            target=child_main, args=(child_conn, self._settings, self._env), name=f"endpoint-worker-{self.index}"
        )
        process.start()
        child_conn.close()  # the parent's copy must go, or EOF never arrives when the child dies
        self._process, self._conn, self.pid = process, parent_conn, process.pid
        self.state, self.job_id = SlotState.STARTING, None
        threading.Thread(
            target=self._read,
            args=(parent_conn, process, self.generation),
            name=f"endpoint-reader-{self.index}",
            daemon=True,
        ).start()
        log.info("worker spawned", extra={"fields": {"slot": self.index, "pid": self.pid}})

    def _read(self, conn: Connection, process: multiprocessing.process.BaseProcess, generation: int) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            self._post(generation, message)
        process.join()
        self._post(generation, ("exited", process.exitcode))

    def _post(self, generation: int, message: tuple[Any, ...]) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: the endpoint is shutting down
            self._loop.call_soon_threadsafe(self._dispatch, generation, message)

    def _dispatch(self, generation: int, message: tuple[Any, ...]) -> None:
        if generation != self.generation or self.state is SlotState.STOPPED:
            return
        kind = message[0]
        if kind == "ready":
            self.state, self.boot_failures = SlotState.IDLE, 0
            self._listener.worker_ready(self)
        elif kind == "progress":
            self._listener.worker_progress(self, message[1], message[2])
        elif kind == "result":
            self.state, self.job_id = SlotState.IDLE, None
            self._listener.worker_result(self, message[1], message[2])
        elif kind == "boot_failed":
            self.boot_failures += 1
            log.error("worker failed to boot", extra={"fields": {"slot": self.index, "error": message[1]}})
        elif kind == "exited":
            job_id, self.job_id = self.job_id, None
            booting = self.state is SlotState.STARTING
            self.state = SlotState.UNHEALTHY if booting else SlotState.STOPPED
            detail = f"exit code {message[1]}"
            log.warning(
                "worker exited",
                extra={"job_id": job_id, "fields": {"slot": self.index, "pid": self.pid, "exit": detail}},
            )
            self._listener.worker_exited(self, job_id, detail)

    def send_job(self, job: dict[str, Any]) -> None:
        self.state, self.job_id = SlotState.BUSY, job["id"]
        self._send(("job", job))

    def cancel(self, job_id: str, code: str) -> None:
        self._send(("cancel", job_id, code))

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            with self._send_lock:
                assert self._conn is not None
                self._conn.send(message)
        except (OSError, ValueError) as exc:  # a dead process: its reader reports the exit
            log.warning("worker unreachable", extra={"fields": {"slot": self.index, "error": str(exc)}})

    def retire(self) -> None:
        """Replace the process after its current job; takes no work meanwhile."""
        self.state = SlotState.RETIRING
        self.kill()

    def kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            log.warning("worker killed", extra={"job_id": self.job_id, "fields": {"slot": self.index, "pid": self.pid}})
            self._process.kill()

    async def stop(self, timeout_s: float = 5.0) -> None:
        process, booting, self.state = self._process, self.state is SlotState.STARTING, SlotState.STOPPED
        if process is None:
            return
        if booting:  # nothing to finish, and it would not read the stop message before it has booted
            process.kill()
        self._send(("stop",))
        await asyncio.to_thread(process.join, timeout_s)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, timeout_s)
        if self._conn is not None:
            self._conn.close()
