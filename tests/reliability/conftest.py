"""Reliability suite fixtures: a DEBUG-level capture of every log record, checked for secrets after each test."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.logs import json_formatter, setup_logging
from tests.reliability import secrets

# The loggers bot.logs.setup_logging tunes (saved and restored around each test).
TUNED = ("httpx", "httpcore", "tornado.access", "telegram", "telegram.ext")


class Capture(logging.Handler):
    """Formats every record the way production does (bot.logs.json_formatter: message, extras, traceback)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(json_formatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted must not break the test
            self.lines.append(repr(record.__dict__))


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[Capture]:
    """Every reliability test runs under the bot's production logging set-up at its most verbose (LOG_LEVEL=DEBUG),
    but captured BEFORE its redaction filter: no configured secret may reach a log line at all (the redaction is
    the safety net, not the plan)."""
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    saved_levels = {name: logging.getLogger(name).level for name in TUNED}
    capture = Capture()
    setup_logging("DEBUG")
    root.handlers[:] = [capture]
    try:
        yield capture
    finally:
        root.handlers[:], root.level = saved_root
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
    leaks = [(secret, line[:300]) for line in capture.lines for secret in secrets.ALL if secret in line]
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
