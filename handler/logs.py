"""The worker's logs: the shared structlog set-up (``workflows.logging_setup``) with the current job id on every
line (``job_id_var``, set by the worker around each job)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable

from workflows import logging_setup

job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)


def configure(level: str = "INFO", json_lines: bool = True, secrets: Iterable[str] = ()) -> None:
    """Route every logger (ComfyUI's included) through one handler that stamps the job id and masks secrets."""
    logging_setup.configure(
        level, ids=("job_id",), context={"job_id": job_id_var}, json_lines=json_lines, secrets=secrets
    )
