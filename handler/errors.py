"""Stable, machine-readable job error codes shared by the worker, the local endpoint and the bot."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


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


class JobError(Exception):
    """Raised anywhere in the worker to end a job with a specific, user-presentable error."""

    def __init__(self, code: ErrorCode, message: str | None = None, **details: Any) -> None:
        self.code = code
        self.message = message or USER_MESSAGES[code]
        self.details = details
        super().__init__(f"{code}: {self.message}")

    def info(self) -> ErrorInfo:
        return ErrorInfo(code=self.code, message=self.message, retryable=RETRYABLE[self.code], details=self.details)
