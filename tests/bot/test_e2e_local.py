"""Both modes end to end: Telegram updates -> Redis -> the local endpoint -> the real worker -> Telegram.

The presets need SDXL and LivePortrait weights, which a CPU test cannot run, so the bot's input builder is
swapped for model-free workflows of the same shape (an image; frames encoded to an MP4). Everything else is
real: the endpoint's HTTP API, its worker process running ComfyUI in-process, the client, Redis, the ledger.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from bot.jobs import JobRecord, Kind
from bot.runpod_client import RunPodSettings
from handler.local_endpoint import EndpointServer, EndpointSettings
from handler.settings import WorkerSettings
from tests.bot.harness import Bot, running_bot
from tests.bot.photos import face_jpeg
from tests.bot.waiting import eventually

pytestmark = pytest.mark.slow
U = 5001
FACE = face_jpeg()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory, worker_settings: WorkerSettings) -> Iterator[EndpointServer]:
    """The local endpoint with one real worker process (the session's worker settings, tests/conftest.py)."""
    if not worker_settings.comfyui_path.exists():
        pytest.skip("ComfyUI is not provided: export COMFYUI_PATH (python comfy_image/provide_comfyui.py)")
    settings = EndpointSettings(  # RunPod's behaviour with its waits shortened
        port=0,
        workers=1,
        webhook_retry_interval_s=0.2,
        cancel_grace_s=2,
        min_execution_timeout_ms=0,
        min_ttl_ms=0,
        sweep_interval_s=0.1,
        log_level="WARNING",
        allow_loopback_webhooks=True,  # the bot's webhook receiver listens on 127.0.0.1
    )
    work = worker_settings.model_copy(
        update={"work_dir": tmp_path_factory.mktemp("bot-endpoint"), "custom_nodes": False, "log_level": "WARNING"}
    )
    server = EndpointServer(settings, work)
    server.start_in_thread()
    server.wait_ready()
    yield server
    server.stop()


def image_workflow(size: int = 64) -> dict[str, Any]:
    color = random.randrange(1 << 24)  # a fresh colour: ComfyUI's cache never skips the work
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": size, "height": size, "batch_size": 1, "color": color}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "e2e"}},
    }


def slow_workflow(blurs: int = 400) -> dict[str, Any]:
    """Tens of seconds of model-free work; ComfyUI checks for an interrupt before each node."""
    color = random.randrange(1 << 24)
    graph: dict[str, Any] = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 256, "height": 256, "batch_size": 1, "color": color}}
    }
    for i in range(blurs):
        source = "1" if i == 0 else str(99 + i)
        graph[str(100 + i)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [source, 0], "blur_radius": 15, "sigma": 3.0},
        }
    graph["2"] = {"class_type": "SaveImage", "inputs": {"images": [str(99 + blurs), 0], "filename_prefix": "slow"}}
    return graph


def video_workflow(frames: int) -> dict[str, Any]:
    color = random.randrange(1 << 24)
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": frames, "color": color}},
        "2": {"class_type": "CreateVideo", "inputs": {"images": ["1", 0], "fps": 10.0}},
        "3": {
            "class_type": "SaveVideo",
            "inputs": {"video": ["2", 0], "filename_prefix": "e2e", "format": "mp4", "codec": "h264"},
        },
    }


async def model_free_input(job: JobRecord) -> dict[str, Any]:
    request = job.request
    if request.prompt == "broken":
        return {"workflow": {"1": {"class_type": "NoSuchNode", "inputs": {}}}}
    if request.prompt == "long":
        return {"workflow": slow_workflow()}
    if request.kind is Kind.IMAGE:
        return {"workflow": image_workflow()}
    return {"workflow": video_workflow(frames=request.duration_s or 10)}


@pytest.fixture
async def bot(redis: Redis, endpoint: EndpointServer) -> AsyncIterator[Bot]:
    runpod = RunPodSettings(base_url=endpoint.url, endpoint_id="local", backoff_base_s=0.05)  # type: ignore[arg-type]
    async with running_bot(redis, runpod, input_builder=model_free_input, poll_min_s=0.05, poll_max_s=0.2) as b:
        yield b


async def test_image_end_to_end(bot: Bot) -> None:
    await bot.users.send(U, "/imagine a blue square")
    await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
    await bot.settle(timeout_s=120)
    [photo] = bot.telegram.sent("sendPhoto", chat_id=U)
    assert photo.files["photo"][1].startswith(b"\x89PNG")
    assert bot.telegram.last_text(U) == "✅ Done. 1 credit spent, balance 2."
    original = next(d for _, d in bot.telegram.buttons(photo) if d.startswith("orig:"))
    await bot.users.tap(U, original, message_id=photo.message_id)
    await eventually(lambda: len(bot.telegram.sent("sendDocument", chat_id=U)) == 1)  # a non-blocking handler
    [doc] = bot.telegram.sent("sendDocument", chat_id=U)
    assert doc.files["document"][1] == photo.files["photo"][1]


async def test_video_end_to_end(bot: Bot) -> None:
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, 10, admin=0)
    await bot.users.send_photo(U, FACE)
    await bot.users.tap(U, next(d for _, d in bot.telegram.last_buttons(U) if d.startswith("dur:")))  # 10 s
    await bot.settle(timeout_s=120)
    [video] = bot.telegram.sent("sendVideo", chat_id=U)
    assert video.files["video"][1][4:8] == b"ftyp"
    assert await bot.ledger.balance(U) == 13 - 4


async def test_worker_failure_is_refunded(bot: Bot) -> None:
    await bot.users.send(U, "/imagine broken")
    await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
    await bot.settle(timeout_s=120)
    assert bot.telegram.last_text(U) == (
        "❌ The generator is misconfigured; we've been notified.\nRefunded to your balance: 1 credit."
    )
    assert await bot.ledger.balance(U) == 3


async def test_cancel_mid_run_on_the_real_worker(bot: Bot) -> None:
    await bot.users.send(U, "/imagine long")
    await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
    await eventually(lambda: any(t.startswith("🎨 Working") for t in bot.telegram.texts(U)), 120)
    await bot.users.send(U, "/cancel")
    await bot.settle(timeout_s=60)
    assert "✖ Cancelled.\nRefunded to your balance: 1 credit." in bot.telegram.texts(U)
    assert await bot.ledger.balance(U) == 3


async def test_runpod_webhook_wakes_the_waiting_step(
    redis: Redis, endpoint: EndpointServer, caplog: pytest.LogCaptureFixture
) -> None:
    """With PUBLIC_URL the bot gives RunPod a webhook; the endpoint's call ends the wait, not the slow poll."""
    from tests.bot.conftest import free_port

    port = free_port()
    runpod = RunPodSettings(base_url=endpoint.url, endpoint_id="local")  # type: ignore[call-arg]
    async with running_bot(
        redis,
        runpod,
        input_builder=model_free_input,
        public_url=f"http://127.0.0.1:{port}",
        runpod_webhook_secret="hook-secret",
        runpod_webhook_listen="127.0.0.1",
        runpod_webhook_port=port,
        poll_webhook_s=600,
        poll_min_s=300,
        poll_max_s=300,
    ) as bot:
        async with httpx.AsyncClient() as http:
            forged = await http.post(f"http://127.0.0.1:{port}/runpod/wrong/abc", json={})
            assert forged.status_code == 403
        await bot.users.send(U, "/imagine a webhook")
        await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
        with caplog.at_level("INFO", logger="bot.runpod_webhook"):
            await bot.settle(timeout_s=60)  # far less than the 300 s poll: the webhook woke it
        assert len(bot.telegram.sent("sendPhoto", chat_id=U)) == 1
        assert any(r.getMessage() == "runpod webhook" for r in caplog.records)
