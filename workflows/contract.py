"""The job contract both sides share: error codes and what a finished job returns.

The worker (handler/) produces these and the bot (bot/) reads them; both import them from here so the
two can never disagree about a field.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobState(StrEnum):
    """A RunPod job's status, as /run, /status and webhooks report it (and the local endpoint too)."""

    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def is_terminal(self) -> bool:
        return self not in (JobState.IN_QUEUE, JobState.IN_PROGRESS)


class ErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    WORKFLOW_INVALID = "WORKFLOW_INVALID"
    MODEL_MISSING = "MODEL_MISSING"
    NO_FACE = "NO_FACE"
    NODE_FAILED = "NODE_FAILED"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"
    STORAGE_FAILED = "STORAGE_FAILED"
    INTERNAL = "INTERNAL"


# Whether trying the same job again can succeed without the caller changing anything.
RETRYABLE: dict[ErrorCode, bool] = {
    ErrorCode.INVALID_INPUT: False,
    ErrorCode.WORKFLOW_INVALID: False,
    ErrorCode.MODEL_MISSING: False,
    ErrorCode.NO_FACE: False,
    ErrorCode.NODE_FAILED: False,
    ErrorCode.OUT_OF_MEMORY: True,
    ErrorCode.TIMEOUT: True,
    ErrorCode.CANCELLED: False,
    ErrorCode.STORAGE_FAILED: True,
    ErrorCode.INTERNAL: True,
}

# Messages fit to show an end user as they are.
USER_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.INVALID_INPUT: "The request is not valid.",
    ErrorCode.WORKFLOW_INVALID: "The workflow is not valid for this worker.",
    ErrorCode.MODEL_MISSING: "A model the workflow needs is not installed on this worker.",
    ErrorCode.NO_FACE: "No face was found in the photo. Please send a clear, front-facing photo of one person.",
    ErrorCode.NODE_FAILED: "A step of the generation failed.",
    ErrorCode.OUT_OF_MEMORY: "The GPU ran out of memory. Please try again.",
    ErrorCode.TIMEOUT: "The generation took too long and was stopped.",
    ErrorCode.CANCELLED: "The generation was cancelled.",
    ErrorCode.STORAGE_FAILED: "The result could not be stored. Please try again.",
    ErrorCode.INTERNAL: "Something went wrong on the worker. Please try again.",
}


class ErrorInfo(BaseModel):
    """The ``error`` object of a failed job's output."""

    code: ErrorCode
    message: str
    retryable: bool
    details: dict[str, Any] = Field(default_factory=dict)


class OutputKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"
    FILE = "file"


class OutputItem(BaseModel):
    node_id: str
    kind: OutputKind
    filename: str | None = None
    content_type: str
    size: int
    url: str | None = None  # presigned S3 URL
    key: str | None = None  # S3 object key
    data: str | None = None  # base64, when not uploaded
    text: str | None = None  # text outputs


class Timings(BaseModel):
    prepare_ms: float = 0.0
    validate_ms: float = 0.0
    execute_ms: float = 0.0
    upload_ms: float = 0.0
    total_ms: float = 0.0


class Progress(BaseModel):
    """The worker's progress update, shown as a job's ``output`` while it is IN_PROGRESS (/status, /stream)."""

    model_config = ConfigDict(extra="allow")

    node: str | None = None
    node_type: str | None = None
    step: int = 0
    max: int = 0
    percent: float = 0.0
    # base64 JPEG of the image so far, at most 256 px on its longer side; while a sampler runs, about once a second
    preview: str | None = None


class JobOutput(BaseModel):
    """The ``output`` of a COMPLETED job."""

    outputs: list[OutputItem]
    timings: Timings
    preset: str | None = None
    params: dict[str, Any] | None = None  # effective parameters (seed, size, ...) for reproducibility
    warnings: list[str] = Field(default_factory=list)


def parse_error(raw: object) -> ErrorInfo:
    """Read a FAILED job's ``error`` as RunPod reports it: our ErrorInfo as a JSON string (or dict).

    Anything else (RunPod's own failures, a crashed worker's traceback) becomes INTERNAL, retryable.
    """
    value: Any = raw
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = {"raw": value[:2000]}
    if isinstance(value, dict) and value.get("code") in ErrorCode.__members__:
        return ErrorInfo.model_validate(value)
    return ErrorInfo(
        code=ErrorCode.INTERNAL,
        message=USER_MESSAGES[ErrorCode.INTERNAL],
        retryable=True,
        details={"raw": str(raw)[:2000]},
    )
