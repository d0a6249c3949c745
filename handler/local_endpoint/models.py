"""Request and response bodies of RunPod's queue API (``/v2/{endpoint_id}/...``) as the local endpoint speaks it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workflows.contract import JobState

__all__ = ["JobState"]


class Policy(BaseModel):
    """Per-job execution policy; times in milliseconds, bounds checked against the endpoint's settings."""

    model_config = ConfigDict(extra="forbid")

    # Strict: "60000", 6e4, true or "yes" are refused (400), not coerced into a timeout or a priority.
    executionTimeout: int | None = Field(default=None, gt=0, le=2**53, strict=True)
    ttl: int | None = Field(default=None, gt=0, le=2**53, strict=True)
    lowPriority: bool = Field(default=False, strict=True)


class S3Config(BaseModel):
    """RunPod's per-request bucket; handed to the worker unchanged as the job's ``s3Config``."""

    model_config = ConfigDict(extra="forbid")

    accessId: str
    accessSecret: str
    bucketName: str
    endpointUrl: str


class RunRequest(BaseModel):
    """Body of POST /run and /runsync."""

    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any]
    webhook: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)
    policy: Policy | None = None
    s3Config: S3Config | None = None


class JobCounts(BaseModel):
    completed: int = 0
    failed: int = 0
    inProgress: int = 0
    inQueue: int = 0
    retried: int = 0


class WorkerCounts(BaseModel):
    idle: int = 0
    initializing: int = 0
    ready: int = 0
    running: int = 0
    throttled: int = 0
    unhealthy: int = 0


class Health(BaseModel):
    jobs: JobCounts
    workers: WorkerCounts


class PurgeResult(BaseModel):
    removed: int
    status: str = "completed"
