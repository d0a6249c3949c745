"""Issue 12's buttons end to end on the real sdxl preset: Telegram updates -> Redis -> the local endpoint -> the
real worker running the tiny random checkpoint -> Telegram, with balances checked at each step.

Re-roll, "use this seed" (the same seed redraws the same picture, byte for byte), /history's free re-send, the
live preview and a variation once the worker has them (features-worker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from bot.runpod_client import RunPodSettings
from handler.local_endpoint import EndpointServer, EndpointSettings
from handler.settings import WorkerSettings
from tests.bot.fake_telegram import Call
from tests.bot.harness import Bot, running_bot
from workflows import contract
from workflows.presets import get_preset

pytestmark = pytest.mark.slow
U = 6001
TIMEOUT_S = 600


@pytest.fixture(scope="module")
def endpoint(
    tmp_path_factory: pytest.TempPathFactory, worker_settings: WorkerSettings, tiny_checkpoint: str
) -> Iterator[EndpointServer]:
    """The local endpoint whose worker runs the production sdxl graph on the tiny checkpoint."""
    settings = EndpointSettings(
        port=0, workers=1, cancel_grace_s=2, min_execution_timeout_ms=0, min_ttl_ms=0, sweep_interval_s=0.1
    )
    work = worker_settings.model_copy(
        update={
            "work_dir": tmp_path_factory.mktemp("bot-features-endpoint"),
            "custom_nodes": False,
            "sdxl_checkpoint": tiny_checkpoint,
            "log_level": "WARNING",
        }
    )
    server = EndpointServer(settings, work)
    server.start_in_thread()
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
async def bot(redis: Redis, endpoint: EndpointServer) -> AsyncIterator[Bot]:
    runpod = RunPodSettings(base_url=endpoint.url, endpoint_id="local", backoff_base_s=0.05)  # type: ignore[arg-type]
    async with running_bot(redis, runpod, poll_min_s=0.2, poll_max_s=0.5, lease_s=30, image_deadline_s=TIMEOUT_S) as b:
        yield b


def photos(bot: Bot) -> list[Call]:
    """The results (a live preview is a photo too, but carries Cancel, not the result buttons)."""
    return [
        c
        for c in bot.telegram.sent("sendPhoto", chat_id=U)
        if any(d.startswith("orig:") for _, d in bot.telegram.buttons(c))
    ]


def worker_sends_previews() -> bool:
    """Whether this build's contract has live previews (features-worker's Progress.preview)."""
    progress = getattr(contract, "Progress", None)
    return progress is not None and "preview" in progress.model_fields


def seed_of(photo: Call) -> str:
    caption = str(photo.get("caption"))
    return caption.split("Seed ", 1)[1].split(" ", 1)[0]


def button(bot: Bot, call: Call, prefix: str) -> str:
    return next(d for _, d in bot.telegram.buttons(call) if d.startswith(prefix))


async def tap_and_settle(bot: Bot, data: str, message_id: int | None = None) -> None:
    await bot.users.tap(U, data, message_id=message_id)
    await bot.settle(timeout_s=TIMEOUT_S)


async def test_reroll_seed_and_history_on_the_real_worker(bot: Bot) -> None:
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, 20, admin=0)
    await bot.users.send(U, "/settings")
    await bot.users.tap(U, "set:steps:15")  # fewer steps: a CPU draws the full-size picture in reasonable time
    balance = await bot.ledger.balance(U)

    await bot.users.send(U, "/imagine a red fox in the snow")
    await tap_and_settle(bot, next(d for _, d in bot.telegram.last_buttons(U) if d.endswith(":1:1")))
    [first] = photos(bot)
    assert first.files["photo"][1].startswith(b"\x89PNG")
    assert str(first.get("caption")).startswith("a red fox in the snow\nSeed ")
    assert "15 steps, CFG 6.5" in str(first.get("caption"))  # the worker's effective params, not the request
    assert await bot.ledger.balance(U) == balance - 1
    if worker_sends_previews():  # the status message became the sampler's preview, then says "Done" on it
        previews = [c for c in bot.telegram.sent("sendPhoto", chat_id=U) if c not in photos(bot)]
        assert previews and str(previews[0].get("caption")).startswith("🎨 Working")
        assert previews[0].files["photo"][1][:2] == b"\xff\xd8"  # the worker's JPEG
        done = [c for c in bot.telegram.sent("editMessageCaption", chat_id=U) if c.message_id == previews[0].message_id]
        assert done and str(done[-1].get("caption")).startswith("✅ Done. 1 credit spent")
        assert len(bot.telegram.sent("deleteMessage", chat_id=U)) == 1  # the text status it replaced

    await tap_and_settle(bot, button(bot, first, "rr:"), first.message_id)
    second = photos(bot)[-1]
    assert seed_of(second) != seed_of(first) and second.files["photo"][1] != first.files["photo"][1]
    assert await bot.ledger.balance(U) == balance - 2

    await bot.users.tap(U, button(bot, first, "seed:"), message_id=first.message_id)
    await bot.users.send(U, "a red fox in the snow")
    await tap_and_settle(bot, next(d for _, d in bot.telegram.last_buttons(U) if d.endswith(":1:1")))
    third = photos(bot)[-1]
    assert seed_of(third) == seed_of(first)
    assert third.files["photo"][1] == first.files["photo"][1]  # same seed and settings: the same picture
    assert await bot.ledger.balance(U) == balance - 3

    await bot.users.send(U, "/history")
    assert "Your last 3 results" in bot.telegram.last_text(U)
    await bot.users.tap(U, bot.telegram.last_buttons(U)[4][1])  # 📤 of the oldest
    resent = photos(bot)[-1]
    first_file_id = first.result["photo"][-1]["file_id"]
    assert resent.files == {} and resent.get("photo") == first_file_id  # Telegram's copy, by its file id
    assert await bot.ledger.balance(U) == balance - 3 and not await bot.ledger.open_jobs()

    # A variation arrives with features-worker's preset and then runs here on the same worker. (An upscale cannot:
    # twice a one-megapixel result is 2048 px, past the tiny checkpoint's 1536 px position table; the fake
    # endpoint's tests cover its button, price and input.)
    if get_preset("sdxl_variation") is not None:
        await tap_and_settle(bot, button(bot, first, "var:"), first.message_id)
        variation = photos(bot)[-1]
        assert variation.files["photo"][1].startswith(b"\x89PNG") and variation is not third
        assert str(variation.get("caption")).startswith("Variation\na red fox in the snow\nSeed ")
        assert await bot.ledger.balance(U) == balance - 4
