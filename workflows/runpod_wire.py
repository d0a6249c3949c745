"""RunPod's queue API on the wire (``/v2/{endpoint_id}/run|status|cancel|...``), defined once.

The bot's client (bot/runpod_client.py) reads these bodies and the local endpoint (handler/local_endpoint) writes
them, so both sides agree by construction. Field names are RunPod's (camelCase).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from workflows.contract import JobState

__all__ = [
    "TERMINAL",
    "Health",
    "JobCounts",
    "JobState",
    "JobStatus",
    "Policy",
    "PurgeResult",
    "RunRequest",
    "S3Config",
    "StreamChunk",
    "StreamResult",
    "WorkerCounts",
]

TERMINAL = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT})


class Policy(BaseModel):
    """Per-job execution policy of /run; times in milliseconds."""

    model_config = ConfigDict(extra="forbid")

    # Strict: "60000", 6e4, true or "yes" are refused (400), not coerced into a timeout or a priority.
    executionTimeout: int | None = Field(default=None, gt=0, le=2**53, strict=True, description="ms")
    ttl: int | None = Field(
        default=None, gt=0, le=2**53, strict=True, description="ms; queue + run, then RunPod forgets the job"
    )
    lowPriority: bool | None = Field(default=None, strict=True)


class S3Config(BaseModel):
    """RunPod's per-request bucket; handed to the worker unchanged as the job's ``s3Config``."""

    model_config = ConfigDict(extra="forbid")

    accessId: str
    accessSecret: SecretStr
    bucketName: str
    endpointUrl: str

    def wire(self) -> dict[str, str]:
        """The body as sent (the secret in clear: it is the request itself)."""
        return {**self.model_dump(exclude={"accessSecret"}), "accessSecret": self.accessSecret.get_secret_value()}


class RunRequest(BaseModel):
    """Body of POST /run and /runsync."""

    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any]
    webhook: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)
    policy: Policy | None = None
    s3Config: S3Config | None = None

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = self.model_dump(exclude_none=True, exclude={"s3Config"})
        if self.s3Config is not None:
            body["s3Config"] = self.s3Config.wire()
        return body


class JobStatus(BaseModel):
    """A job as /run, /runsync, /status, /cancel, /retry and RunPod's webhook report it."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: JobState
    delayTime: int | None = None
    executionTime: int | None = None
    output: Any = None
    error: Any = None
    workerId: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _running_is_in_progress(cls, value: Any) -> Any:
        return JobState.IN_PROGRESS if value == "RUNNING" else value

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class StreamChunk(BaseModel):
    model_config = ConfigDict(extra="allow")
    output: Any = None


class StreamResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: JobState
    stream: list[StreamChunk] = Field(default_factory=list)


class JobCounts(BaseModel):
    model_config = ConfigDict(extra="allow")
    completed: int = 0
    failed: int = 0
    inProgress: int = 0
    inQueue: int = 0
    retried: int = 0


class WorkerCounts(BaseModel):
    model_config = ConfigDict(extra="allow")
    idle: int = 0
    initializing: int = 0
    ready: int = 0
    running: int = 0
    throttled: int = 0
    unhealthy: int = 0


class Health(BaseModel):
    """GET /health."""

    model_config = ConfigDict(extra="allow")
    jobs: JobCounts
    workers: WorkerCounts


class PurgeResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    removed: int
    status: str = "completed"
