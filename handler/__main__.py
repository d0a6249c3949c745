"""``python -m handler``: boot the in-process ComfyUI engine, then serve RunPod jobs.

With no RunPod environment, runpod's own local mode runs ``--test_input '{...}'`` or ``./test_input.json`` once.
"""

from __future__ import annotations

import asyncio
import importlib
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

from handler import logs
from handler.settings import WorkerSettings
from handler.worker import Worker
from workflows.redact import secret_values


def boot(settings: WorkerSettings) -> tuple[Worker, ModuleType]:
    """A booted (and warmed-up) worker and the runpod SDK, ready to take jobs."""
    worker = Worker(settings)
    # Boot (and warm up) before taking jobs, so the first job never waits on imports or model loading.
    # Importing runpod meanwhile costs ~1.5 s, nearly all of it waiting on py-cpuinfo's subprocess: doing it
    # while ComfyUI boots on another thread hides it from the cold start (benchmarks/worker_overhead.py).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="boot") as boot:
        booted = boot.submit(asyncio.run, worker.start())
        runpod = importlib.import_module("runpod")
        booted.result()
    return worker, runpod


def main() -> None:
    settings = WorkerSettings()
    logs.configure(settings.log_level, settings.log_json, secret_values(settings))
    worker, runpod = boot(settings)
    runpod.serverless.start({"handler": worker.handle})


if __name__ == "__main__":
    main()
