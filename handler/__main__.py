"""``python -m handler``: boot the in-process ComfyUI engine, then serve RunPod jobs.

With no RunPod environment, runpod's own local mode runs ``--test_input '{...}'`` or ``./test_input.json`` once.
"""

from __future__ import annotations

import asyncio
import importlib
import platform
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

from handler import logs
from handler.settings import WorkerSettings
from handler.worker import Worker
from workflows.redact import secret_values


def import_runpod() -> ModuleType:
    """Import the runpod SDK without its import-time CPU probe.

    runpod's debug module labels its output with py-cpuinfo's CPU brand, computed at import by spawning a Python
    subprocess and a CPUID child (~1.2 s of a ~5 s cold start, competing with ComfyUI's boot for the CPU).
    The platform's own processor string serves that label; the probe is restored right after.
    """
    import cpuinfo

    probe = cpuinfo.get_cpu_info
    cpuinfo.get_cpu_info = lambda: {"brand_raw": platform.processor() or platform.machine()}
    try:
        return importlib.import_module("runpod")
    finally:
        cpuinfo.get_cpu_info = probe


def boot(settings: WorkerSettings) -> tuple[Worker, ModuleType]:
    """A booted (and warmed-up) worker and the runpod SDK, ready to take jobs."""
    worker = Worker(settings)
    # Boot (and warm up) before taking jobs, so the first job never waits on imports or model loading.
    # The runpod SDK is imported meanwhile, on this thread (benchmarks/worker_overhead.py).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="boot") as boot:
        booted = boot.submit(asyncio.run, worker.start())
        runpod = import_runpod()
        booted.result()
    return worker, runpod


def main() -> None:
    settings = WorkerSettings()
    logs.configure(settings.log_level, settings.log_json, secret_values(settings))
    worker, runpod = boot(settings)
    runpod.serverless.start({"handler": worker.handle})


if __name__ == "__main__":
    main()
