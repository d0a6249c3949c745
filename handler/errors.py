"""The worker's exception for ending a job with a specific error (codes live in workflows.contract)."""

from __future__ import annotations

from typing import Any

from workflows.contract import RETRYABLE, USER_MESSAGES, ErrorCode, ErrorInfo

__all__ = ["ErrorCode", "ErrorInfo", "JobError"]


class JobError(Exception):
    """Raised anywhere in the worker to end a job with a specific, user-presentable error."""

    def __init__(self, code: ErrorCode, message: str | None = None, **details: Any) -> None:
        self.code = code
        self.message = message or USER_MESSAGES[code]
        self.details = details
        super().__init__(f"{code}: {self.message}")

    def info(self) -> ErrorInfo:
        return ErrorInfo(code=self.code, message=self.message, retryable=RETRYABLE[self.code], details=self.details)
