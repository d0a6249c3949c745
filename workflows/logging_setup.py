"""One logging set-up for both deployables (bot and worker), built on structlog.

Every record, from our code (stdlib ``logging`` with ``extra={...}``, or structlog loggers) and from libraries (PTB,
httpx, ComfyUI), goes through one handler on stderr that renders one JSON object per line:
``{"ts", "level", "logger", <ids>, "msg", ...extras, "exc"}``. The ids (``job_id`` in the worker, ``trace_id`` and
``job_id`` in the bot) are on every line, null when unknown, taken from the record's extras, structlog's
context variables (``structlog.contextvars.bind_contextvars``) or the given ``ContextVar``s. Every known secret is
masked on the finished line (``workflows.redact``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from workflows.redact import RedactingFormatter, secrets_from_env

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
ContextVars = Mapping[str, contextvars.ContextVar[str | None]]


def _record_fields(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Time, level, logger and the ``extra={...}`` of a stdlib record (a ``fields`` dict is flattened)."""
    record: logging.LogRecord | None = event.get("_record")
    if record is None:
        event.setdefault("ts", time.time())
        return event
    event["ts"] = record.created
    event["level"] = record.levelname
    event["logger"] = record.name
    for key, value in record.__dict__.items():
        if key == "fields" and isinstance(value, dict):
            for name, item in value.items():
                event.setdefault(name, item)
        elif key not in _STANDARD and not key.startswith("_"):
            event.setdefault(key, value)
    return event


class _Ids:
    """The ids every line carries, from wherever they were set."""

    def __init__(self, ids: Iterable[str], sources: ContextVars) -> None:
        self.ids = tuple(ids)
        self.sources = dict(sources)

    def __call__(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        for name in self.ids:
            if event.get(name) is None:
                source = self.sources.get(name)
                event[name] = source.get() if source is not None else None
        return event


def _shape(ids: tuple[str, ...]) -> Processor:
    def shape(_: WrappedLogger, method: str, event: EventDict) -> MutableMapping[str, Any]:
        ts = float(event.pop("ts", time.time()))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
        line: dict[str, Any] = {
            "ts": stamp,
            "level": str(event.pop("level", method)).upper(),
            "logger": event.pop("logger", ""),
        }
        line.update({name: event.pop(name, None) for name in ids})
        line["msg"] = event.pop("event", "")
        exc = event.pop("exception", None)
        line.update(event)
        if exc:
            line["exc"] = exc
        return line

    return shape


def _json(_: WrappedLogger, __: str, event: EventDict) -> str:
    return json.dumps(event, default=str, ensure_ascii=False)


def _plain(ids: tuple[str, ...]) -> Processor:
    def plain(_: WrappedLogger, __: str, event: EventDict) -> str:
        head = f"{event.pop('ts')} {event.pop('level')} [{' '.join(str(event.pop(i)) for i in ids)}]"
        text = f"{head} {event.pop('logger')}: {event.pop('msg')}"
        exc = event.pop("exc", None)
        if event:
            text += " " + " ".join(f"{k}={v}" for k, v in event.items())
        return f"{text}\n{exc}" if exc else text

    return plain


def formatter(
    ids: Iterable[str] = ("job_id",), context: ContextVars | None = None, json_lines: bool = True
) -> logging.Formatter:
    """The line format alone (no redaction): for the production handler below and for tests that capture."""
    keys = tuple(ids)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.contextvars.merge_contextvars, _record_fields],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _Ids(keys, context or {}),
            structlog.processors.format_exc_info,
            _shape(keys),
            _json if json_lines else _plain(keys),
        ],
    )


def configure(
    level: str = "INFO",
    *,
    ids: Iterable[str] = ("job_id",),
    context: ContextVars | None = None,
    json_lines: bool = True,
    secrets: Iterable[str] = (),
) -> None:
    """Route every logger through one stderr handler (ids stamped, secrets masked); structlog loggers too."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            _record_fields,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    inner = formatter(ids, context, json_lines)
    handler.setFormatter(RedactingFormatter(inner, [*secrets, *secrets_from_env()]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
