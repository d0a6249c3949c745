"""Reliability suite fixtures: a DEBUG-level capture of every log record, checked for secrets after each test."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.logs import JsonFormatter
from tests.reliability import secrets

# Known leaks, reported as bugs and each pinned by a strict xfail in test_security.py; tolerated here (only these
# exact sources) so that every test still checks everything else:
# - PTB's ExtBot logger at DEBUG prints its API URL (the bot token) and every call's parameters (setWebhook's
#   secret_token): test_debug_logs_never_show_telegram_secrets.
# - tornado's access log at INFO prints the RunPod webhook's path, token included: test_runpod_webhook_token_...
KNOWN_LEAKS = ('"logger": "telegram.ext.ExtBot"', '"logger": "tornado.access"')


class Capture(logging.Handler):
    """Formats every record the way production does (bot.logs.JsonFormatter: message, extras, traceback)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted must not break the test
            self.lines.append(repr(record.__dict__))


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[Capture]:
    """Every reliability test runs with the root logger at DEBUG; no configured secret may reach a log line."""
    root = logging.getLogger()
    capture = Capture()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    # bot.logs.setup_logging does the same in production: httpx logs request URLs (Telegram's carry the token).
    httpx_logger = logging.getLogger("httpx")
    old_httpx = httpx_logger.level
    httpx_logger.setLevel(logging.WARNING)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
        httpx_logger.setLevel(old_httpx)
    leaks = [
        (secret, line[:300])
        for line in capture.lines
        for secret in secrets.ALL
        if secret in line and not any(known in line for known in KNOWN_LEAKS)
    ]
    assert not leaks, f"secrets in log lines: {leaks[:3]}"


# The bot's fixtures (a real redis-server on loopback), with this suite's distinctive secrets.
from tests.bot.conftest import redis, redis_url  # noqa: E402, F401


@pytest.fixture
async def fake_runpod() -> AsyncIterator[Any]:
    from tests.bot.fake_runpod import FakeRunPod, serve_fake_runpod

    async with serve_fake_runpod(FakeRunPod(api_key=secrets.RUNPOD_API_KEY)) as server:
        yield server


@pytest.fixture
def runpod_settings(fake_runpod: Any) -> Any:
    from bot.runpod_client import RunPodSettings

    return RunPodSettings(
        base_url=fake_runpod.base_url,
        endpoint_id=fake_runpod.endpoint_id,
        api_key=secrets.RUNPOD_API_KEY,
        backoff_base_s=0.01,
        max_attempts=2,
    )
