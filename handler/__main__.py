"""``python -m handler``: boot the in-process ComfyUI engine, then serve RunPod jobs.

With no RunPod environment, runpod's own local mode runs ``--test_input '{...}'`` or ``./test_input.json`` once.
"""

from __future__ import annotations

import asyncio

import runpod

from handler import logs
from handler.settings import WorkerSettings
from handler.worker import Worker


def main() -> None:
    settings = WorkerSettings()
    logs.configure(settings.log_level, settings.log_json)
    worker = Worker(settings)
    # Boot before taking jobs, so the first job never waits on imports or model loading.
    asyncio.run(worker.start())
    runpod.serverless.start({"handler": worker.handle})


if __name__ == "__main__":
    main()
