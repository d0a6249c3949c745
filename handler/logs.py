"""Structured (JSON) logs with the current job id on every line."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterable

from workflows.redact import RedactingFormatter, secrets_from_env

job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "job_id": getattr(record, "job_id", None) or job_id_var.get(),
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _JobIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "job_id"):
            record.job_id = job_id_var.get() or "-"
        return True


def configure(level: str = "INFO", json_lines: bool = True, secrets: Iterable[str] = ()) -> None:
    """Route every logger (ComfyUI's included) through one handler that stamps the job id and masks secrets."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_JobIdFilter())
    inner = (
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s [%(job_id)s] %(name)s: %(message)s")
    )
    handler.setFormatter(RedactingFormatter(inner, [*secrets, *secrets_from_env()]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
