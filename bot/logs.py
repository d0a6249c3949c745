"""One JSON object per log line, with whatever ``extra={...}`` a call passed (job_id, uid, ...)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable

from workflows.redact import RedactingFormatter, secrets_from_env

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """JSON lines on stderr; every configured secret (and any in the environment) is masked on every line."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(JsonFormatter(), [*secrets, *secrets_from_env()]))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Quiet the libraries that print request URLs (Telegram's carry the bot token; RunPod's webhook path its
    # secret): the redaction above is the safety net, not the plan.
    for name in ("httpx", "httpcore", "tornado.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("telegram", "telegram.ext"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
