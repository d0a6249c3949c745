"""Fixtures for the bot's tests: a real redis-server on a loopback port (no persistence)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.ledger import Ledger


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def ledger(redis: Redis) -> Ledger:
    return Ledger(redis, prefix="t:")


@pytest.fixture
async def fake_runpod() -> AsyncIterator[Any]:
    from tests.bot.fake_runpod import FakeRunPod, serve_fake_runpod

    async with serve_fake_runpod(FakeRunPod()) as server:
        yield server


@pytest.fixture
def runpod_settings(fake_runpod: Any) -> Any:
    from bot.runpod_client import RunPodSettings

    return RunPodSettings(
        base_url=fake_runpod.base_url,
        endpoint_id=fake_runpod.endpoint_id,
        api_key=fake_runpod.api_key,
        backoff_base_s=0.01,
        max_attempts=2,
    )
