"""The bot's logs: the shared structlog set-up (``workflows.logging_setup``) with ``trace_id`` (one per Telegram
update, bound by ``bot.updates``) and ``job_id`` on every line."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from workflows import logging_setup

IDS = ("trace_id", "job_id")


def json_formatter() -> logging.Formatter:
    """The production line format without the redaction (tests capture with it)."""
    return logging_setup.formatter(IDS)


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """JSON lines on stderr; every configured secret (and any in the environment) is masked on every line."""
    logging_setup.configure(level, ids=IDS, secrets=secrets)
    # Quiet the libraries that print request URLs (Telegram's carry the bot token; RunPod's webhook path its
    # secret): the redaction above is the safety net, not the plan.
    for name in ("httpx", "httpcore", "tornado.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("telegram", "telegram.ext"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
