"""Request and response bodies of RunPod's queue API (``/v2/{endpoint_id}/...``) as the local endpoint speaks it.

Defined once in workflows/runpod_wire.py, shared with the bot's client.
"""

from __future__ import annotations

from workflows.runpod_wire import (
    Health,
    JobCounts,
    JobState,
    JobStatus,
    Policy,
    PurgeResult,
    RunRequest,
    S3Config,
    WorkerCounts,
)

__all__ = [
    "Health",
    "JobCounts",
    "JobState",
    "JobStatus",
    "Policy",
    "PurgeResult",
    "RunRequest",
    "S3Config",
    "WorkerCounts",
]
