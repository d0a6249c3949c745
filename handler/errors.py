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
        return ErrorInfo(
            code=self.code, message=_scrub(self.message), retryable=RETRYABLE[self.code], details=_scrub(self.details)
        )


def _scrub(value: Any) -> Any:
    """``value`` with lone surrogates escaped: a hostile JSON string can carry them (a message or a detail echoing
    it), and UTF-8 cannot encode them, so the error itself would fail to serialise."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value
