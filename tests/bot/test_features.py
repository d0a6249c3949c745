"""Issue 12 through the real Application: result buttons at their prices, captions with what ran, /history,
/settings, requests kept (after buying, behind a running job), live previews, /animate's buttons, the face check."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image
from redis.asyncio import Redis

from bot.runpod_client import RunPodSettings
from tests.bot.fake_runpod import HOLD, PNG_B64, FakeRunPod, Step, completed_image, completed_video, queued, running
from tests.bot.fake_telegram import Call
from tests.bot.harness import Bot, running_bot
from tests.bot.photos import face_jpeg, no_face_jpeg
from tests.bot.waiting import eventually
from workflows.presets import get_preset
from workflows.sdxl import SdxlParams

U = 4001


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:
    async with running_bot(redis, runpod_settings, variation_cost=2, upscale_cost=3) as b:
        yield b


def image_done(seed: int = 42, warnings: list[str] | None = None, **params: Any) -> Step:
    step = completed_image()
    step["output"]["params"] = {"prompt": "p", "aspect_ratio": "16:9", "seed": seed, "steps": 25, "cfg": 6.5} | params
    step["output"]["warnings"] = warnings or []
    return step


def preview_step(percent: float, color: tuple[int, int, int]) -> Step:
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), color).save(buf, format="JPEG")
    step = running(percent)
    step["output"]["preview"] = base64.b64encode(buf.getvalue()).decode()
    return step


async def make_image(bot: Bot, prompt: str = "a red fox", ratio: str = "16:9", uid: int = U) -> Call:
    """Ask for an image, tap the ratio, wait for it; returns the delivered photo."""
    before = len(bot.telegram.sent("sendPhoto", chat_id=uid))
    await bot.users.send(uid, f"/imagine {prompt}")
    await bot.users.tap(uid, next(d for _, d in bot.telegram.last_buttons(uid) if d.endswith(f":{ratio}")))
    await bot.settle()
    photos = bot.telegram.sent("sendPhoto", chat_id=uid)
    assert len(photos) > before  # (a lease lost under CPU load may deliver twice, by design)
    return photos[-1]


def button(bot: Bot, call: Call, prefix: str) -> str:
    return next(d for _, d in bot.telegram.buttons(call) if d.startswith(prefix))


# Result buttons ---------------------------------------------------------------------------------------------


async def test_every_image_carries_what_ran_and_its_buttons(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [image_done(warnings=["The prompt was cut to 77 tokens."])]
    photo = await make_image(bot)
    assert photo.get("caption") == "a red fox\nSeed 42 · 25 steps, CFG 6.5\n⚠ The prompt was cut to 77 tokens."
    labels = [label for label, _ in bot.telegram.buttons(photo)]
    assert labels[:2] == ["🔁 Re-roll · 1 cr.", "🌱 Use this seed"] and labels[-1] == "⬇ Original PNG"


async def test_buttons_are_in_the_users_language(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [image_done()]
    await bot.users.send(U, "/start", lang="ru")
    photo = await make_image(bot)
    assert photo.get("caption") == "a red fox\nSeed 42 · 25 шагов, CFG 6.5"
    assert [label for label, _ in bot.telegram.buttons(photo)][:2] == ["🔁 Ещё раз · 1 кр.", "🌱 Взять этот seed"]
    assert "✅ Готово. Списано: 1 кредит, баланс 2." in bot.telegram.texts(U)


async def test_reroll_runs_the_same_request_with_a_new_seed_at_its_price(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [image_done()]
    photo = await make_image(bot)
    assert await bot.ledger.balance(U) == 2
    reroll = button(bot, photo, "rr:")
    await bot.users.tap(U, reroll, message_id=photo.message_id)
    await bot.users.tap(U, reroll, message_id=photo.message_id)  # a double tap orders once
    await bot.settle()
    first, second = (run["input"] for run in fake_runpod.runs)
    assert first == second == {"preset": "sdxl", "params": {"prompt": "a red fox", "aspect_ratio": "16:9"}}
    assert len(bot.telegram.sent("sendPhoto", chat_id=U)) == 2 and await bot.ledger.balance(U) == 1
    status = bot.telegram.sent("sendMessage", chat_id=U)[-1]
    reply = status.get("reply_parameters")
    reply = json.loads(reply) if isinstance(reply, str) else reply
    assert reply["message_id"] == photo.message_id  # its status answers the image it re-rolls


async def test_use_this_seed_draws_the_next_prompt_with_it(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [image_done(seed=777)]
    photo = await make_image(bot)
    await bot.users.tap(U, button(bot, photo, "seed:"), message_id=photo.message_id)
    assert bot.telegram.last_text(U) == "Send me a new prompt: I'll draw it with seed 777 and the same settings."
    assert await bot.ledger.balance(U) == 2  # choosing is free; the image is paid when its ratio is tapped
    await bot.users.send(U, "a blue whale")
    await bot.users.tap(U, next(d for _, d in bot.telegram.last_buttons(U) if d.endswith(":1:1")))
    await bot.settle()
    assert fake_runpod.runs[1]["input"]["params"] == {"prompt": "a blue whale", "aspect_ratio": "1:1", "seed": 777}
    assert await bot.ledger.balance(U) == 1
    await make_image(bot, prompt="a third one")  # the seed was for one prompt only
    assert "seed" not in fake_runpod.runs[2]["input"]["params"]


async def test_buttons_of_someone_elses_or_a_forgotten_result_do_nothing(bot: Bot, fake_runpod: FakeRunPod) -> None:
    photo = await make_image(bot)
    await bot.users.tap(9999, button(bot, photo, "rr:"), message_id=photo.message_id)
    await bot.users.tap(U, "rr:0000000000000000", message_id=photo.message_id)
    alerts = [c for c in bot.telegram.sent("answerCallbackQuery") if c.get("show_alert")]
    assert len(alerts) == 2 and "no longer available" in str(alerts[0].get("text"))
    assert len(fake_runpod.runs) == 1 and await bot.ledger.balance(9999) == 3


def registered(preset: str) -> None:
    if get_preset(preset) is None:
        pytest.skip(f"the {preset} preset is not registered yet (features-worker)")


async def test_variation_and_upscale_buttons_follow_the_endpoints_presets(bot: Bot) -> None:
    photo = await make_image(bot)
    data = [d.split(":")[0] for _, d in bot.telegram.buttons(photo)]
    assert ("var" in data) == (get_preset("sdxl_variation") is not None)
    assert ("up" in data) == (get_preset("sdxl_upscale") is not None)


async def test_variation_starts_from_the_original_at_its_price(bot: Bot, fake_runpod: FakeRunPod) -> None:
    registered("sdxl_variation")
    fake_runpod.script = lambda _: [image_done()]
    photo = await make_image(bot)
    await bot.users.tap(U, button(bot, photo, "var:"), message_id=photo.message_id)
    await bot.settle()
    run = fake_runpod.runs[1]["input"]
    assert run["preset"] == "sdxl_variation" and run["params"] == {"prompt": "a red fox", "image": PNG_B64}
    preset = get_preset("sdxl_variation")
    assert preset is not None
    preset.params_model.model_validate(run["params"])  # what the worker will accept
    assert await bot.ledger.balance(U) == 3 - 1 - 2
    assert bot.telegram.sent("sendPhoto", chat_id=U)[-1].get("caption", "").startswith("Variation\na red fox")


async def test_upscale_keeps_the_seed_and_is_not_offered_again(bot: Bot, fake_runpod: FakeRunPod) -> None:
    registered("sdxl_upscale")
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, 10, admin=0)
    fake_runpod.script = lambda _: [image_done(seed=5)]
    photo = await make_image(bot)
    await bot.users.tap(U, button(bot, photo, "up:"), message_id=photo.message_id)
    await bot.settle()
    run = fake_runpod.runs[1]["input"]
    assert run["preset"] == "sdxl_upscale" and run["params"] == {"prompt": "a red fox", "seed": 5, "image": PNG_B64}
    preset = get_preset("sdxl_upscale")
    assert preset is not None
    preset.params_model.model_validate(run["params"])
    assert await bot.ledger.balance(U) == 13 - 1 - 3
    upscaled = bot.telegram.sent("sendPhoto", chat_id=U)[-1]
    assert not any(d.startswith("up:") for _, d in bot.telegram.buttons(upscaled))


# /history -----------------------------------------------------------------------------------------------------


async def test_history_resends_without_gpu_work_and_rerolls(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/history")
    assert bot.telegram.last_text(U) == "No results yet. /imagine <prompt> makes the first one."
    fake_runpod.script = lambda _: [image_done(seed=1)]
    await make_image(bot, prompt="first")
    fake_runpod.script = lambda _: [image_done(seed=2)]
    second = await make_image(bot, prompt="second")
    await bot.users.send(U, "/history")
    text = bot.telegram.last_text(U)
    assert text.startswith("Your last 2 results (📤 sends it again for free, 🔁 makes a new one):")
    assert "1. " in text and "«second» · Seed 2" in text and "2. " in text and "«first» · Seed 1" in text
    resend, reroll = bot.telegram.last_buttons(U)[0][1], bot.telegram.last_buttons(U)[1][1]
    await bot.users.tap(U, resend)
    again = bot.telegram.sent("sendPhoto", chat_id=U)[-1]
    assert again.get("photo") == second.files["photo"][0] or again.get("photo") == "ph-out-2"  # Telegram's file id
    assert again.files == {} and again.get("caption") == "second\nSeed 2 · 25 steps, CFG 6.5"
    assert len(fake_runpod.runs) == 2 and await bot.ledger.balance(U) == 1  # no GPU work, no charge
    await bot.users.tap(U, reroll)
    await bot.settle()
    assert fake_runpod.runs[2]["input"]["params"]["prompt"] == "second" and await bot.ledger.balance(U) == 0


async def test_history_keeps_the_last_twenty(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, 30, admin=0)
    for n in range(21):
        await make_image(bot, prompt=f"image {n}")
    await bot.users.send(U, "/history")
    text = bot.telegram.last_text(U)
    assert "Your last 20 results" in text and "«image 20»" in text and "«image 0»" not in text
    assert len(bot.telegram.last_buttons(U)) == 40


# /settings ----------------------------------------------------------------------------------------------------


async def test_settings_apply_to_the_next_images(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/settings")
    assert "Steps: 25 · CFG: 6.5\nNegative prompt: default" in bot.telegram.last_text(U)
    await bot.users.tap(U, "set:steps:30")
    await bot.users.tap(U, "set:cfg:8")
    assert "Steps: 30 · CFG: 8" in bot.telegram.last_text(U)
    assert ("✓ 30", "set:steps:30") in bot.telegram.last_buttons(U)
    await bot.users.tap(U, "set:neg:")
    assert "Send the negative prompt" in bot.telegram.last_text(U)
    await bot.users.send(U, "text, watermark")
    await make_image(bot)
    assert fake_runpod.runs[0]["input"]["params"] == {
        "prompt": "a red fox",
        "aspect_ratio": "16:9",
        "negative_prompt": "text, watermark",
        "steps": 30,
        "cfg": 8.0,
    }
    SdxlParams.model_validate(fake_runpod.runs[0]["input"]["params"])  # what the worker will accept
    await bot.users.send(U, "/settings")
    await bot.users.tap(U, "set:reset:")
    await make_image(bot)
    assert fake_runpod.runs[1]["input"]["params"] == {"prompt": "a red fox", "aspect_ratio": "16:9"}


async def test_settings_outside_the_presets_limits_are_refused(bot: Bot) -> None:
    await bot.users.send(U, "/settings")
    for forged in ("set:steps:500", "set:cfg:0.1", "set:steps:2.5", "set:style:nonexistent"):
        await bot.users.tap(U, forged)
    alerts = [c for c in bot.telegram.sent("answerCallbackQuery") if c.get("show_alert")]
    assert len(alerts) == 4
    await bot.users.send(U, "/settings")
    assert "Steps: 25 · CFG: 6.5" in bot.telegram.last_text(U)


# Requests kept -----------------------------------------------------------------------------------------------


async def test_not_enough_credits_continues_with_one_tap_after_buying(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, -3, admin=0)
    await bot.users.send(U, "/imagine a castle")
    await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
    refusal = bot.telegram.last_buttons(U)
    assert refusal[0] == ("⭐ Buy credits", "buy:menu") and refusal[1][0] == "▶ Continue"
    await bot.users.paid(U, f"pack:s:10:50:{U}", 50, "charge-1")
    assert bot.telegram.last_text(U) == "Your request is still waiting (1 credit). Continue?"
    go = bot.telegram.last_buttons(U)[0][1]
    assert go == refusal[1][1]
    await bot.users.tap(U, go)
    await bot.users.tap(U, go)  # a second tap runs nothing more
    await bot.settle()
    assert [r["input"]["params"]["prompt"] for r in fake_runpod.runs] == ["a castle"]
    assert await bot.ledger.balance(U) == 9


# Live previews ------------------------------------------------------------------------------------------------


async def test_the_status_message_turns_into_the_live_preview(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [
        queued(),
        preview_step(30, (200, 0, 0)),
        preview_step(60, (0, 200, 0)),
        running(90),
        image_done(),
    ]
    bot.telegram.fail("editMessageMedia", 400, "Bad Request: message is not modified")
    await bot.users.send(U, "/imagine a red fox")
    text_status = bot.users.last_keyboard_message(U)
    await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
    await bot.settle()
    first = bot.telegram.sent("sendPhoto", chat_id=U)[0]
    assert first.get("caption") == "🎨 Working… 30%" and first.files["photo"][1][:2] == b"\xff\xd8"
    result = bot.telegram.sent("sendPhoto", chat_id=U)[-1]
    assert ("✖ Cancel", "cancel:" + button(bot, result, "orig:").split(":")[1]) in bot.telegram.buttons(first)
    [deleted] = bot.telegram.sent("deleteMessage", chat_id=U)
    assert int(deleted.get("message_id")) == text_status  # one status message, never two
    assert len(bot.telegram.sent("editMessageMedia!failed")) == 1  # "not modified" is harmless
    captions = [c.get("caption") for c in bot.telegram.sent("editMessageCaption", chat_id=U)]
    assert captions[-1] == "✅ Done. 1 credit spent, balance 2." and "🎨 Working… 90%" in captions
    assert all(c.get("message_id") == first.message_id for c in bot.telegram.sent("editMessageCaption"))
    assert len(bot.telegram.sent("sendPhoto", chat_id=U)) == 2 and await bot.ledger.balance(U) == 2


async def test_status_edits_keep_within_telegrams_per_chat_limit(
    redis: Redis, runpod_settings: RunPodSettings, fake_runpod: FakeRunPod
) -> None:
    fake_runpod.script = lambda _: [running(10), preview_step(20, (1, 2, 3)), running(30), running(40), image_done()]
    async with running_bot(redis, runpod_settings, status_edit_interval_s=3600) as bot:
        await make_image(bot)
        working = [t for t in bot.telegram.texts(U) if t.startswith("🎨")]
        assert working == ["🎨 Working… 10%"]  # the rest came within the interval: skipped, not queued up
        assert len(bot.telegram.sent("sendPhoto", chat_id=U)) == 1  # the result only; no preview squeezed in
        assert bot.telegram.last_text(U) == "✅ Done. 1 credit spent, balance 2."  # phase changes always show


# /animate -----------------------------------------------------------------------------------------------------


async def test_animate_offers_motion_styles_and_tells_what_ran(bot: Bot, fake_runpod: FakeRunPod) -> None:
    step = completed_video(20, data_b64=base64.b64encode(b"\x00\x00\x00\x18ftypmp42").decode())
    step["output"]["params"] = {"duration": 10, "prompt": "cheerful", "seed": 3}
    step["output"]["warnings"] = ["2 faces found; the largest was animated."]
    fake_runpod.script = lambda _: [step]
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, 10, admin=0)
    await bot.users.send_photo(U, face_jpeg())
    await bot.users.tap(U, next(d for _, d in bot.telegram.last_buttons(U) if d.endswith(":cheerful")))
    edited = bot.telegram.sent("editMessageReplyMarkup", chat_id=U)[-1]
    labels = [label for label, _ in bot.telegram.buttons(edited)]
    assert labels[:3] == ["😌 Calm", "✓ 😊 Cheerful", "🙂 Nods"]
    await bot.users.tap(U, next(d for _, d in bot.telegram.last_buttons(U) if d.startswith("dur:")))
    await bot.settle()
    assert fake_runpod.runs[0]["input"]["params"]["prompt"] == "cheerful"
    [video] = bot.telegram.sent("sendVideo", chat_id=U)
    assert video.get("caption") == "10 s, motion: 😊 Cheerful\n⚠ 2 faces found; the largest was animated."
    assert await bot.ledger.balance(U) == 13 - 4


# The face check -----------------------------------------------------------------------------------------------


async def test_a_photo_without_a_face_is_refused_before_any_credit_is_held(bot: Bot, fake_runpod: FakeRunPod) -> None:
    if importlib.util.find_spec("workflows.face_check") is None:
        pytest.skip("workflows.face_check is not here yet (features-worker)")
    await bot.users.send(U, "/start")
    await bot.users.send_photo(U, no_face_jpeg())
    assert bot.telegram.last_text(U).endswith("Nothing was charged.")
    assert "couldn't find a face" in bot.telegram.last_text(U)
    assert bot.telegram.last_buttons(U) == [] and await bot.ledger.open_jobs() == []
    await bot.users.send_photo(U, face_jpeg())
    assert any(d.startswith("dur:") for _, d in bot.telegram.last_buttons(U))
    assert fake_runpod.runs == [] and await bot.ledger.balance(U) == 3


async def test_a_job_waiting_behind_another_holds_no_credits(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [HOLD]
    await bot.users.send(U, "/imagine one")
    await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
    await eventually(lambda: len(fake_runpod.runs) == 1)
    await bot.users.send(U, "/imagine two")
    await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
    assert await bot.ledger.balance(U) == 2
    uqx = next(d for _, d in bot.telegram.last_buttons(U) if d.startswith("uqx:"))
    await bot.users.tap(U, uqx)  # cancel the waiting one only
    assert bot.telegram.last_text(U) == "✖ Cancelled."
    fake_runpod.script = lambda _: [completed_image()]
    fake_runpod.finish_held(completed_image())
    await bot.settle()
    assert len(fake_runpod.runs) == 1 and await bot.ledger.balance(U) == 2


async def test_a_video_in_history_is_resent_and_animated_again_from_the_same_photo(
    bot: Bot, fake_runpod: FakeRunPod
) -> None:
    mp4 = b"\x00\x00\x00\x18ftypmp42-video"
    fake_runpod.script = lambda _: [completed_video(len(mp4), data_b64=base64.b64encode(mp4).decode())]
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, 10, admin=0)
    await bot.users.send_photo(U, face_jpeg())
    await bot.users.tap(
        U, next(d for _, d in bot.telegram.last_buttons(U) if d.startswith("dur:") and d.endswith(":15"))
    )
    await bot.settle()
    assert await bot.ledger.balance(U) == 13 - 6
    await bot.users.send(U, "/history")
    assert "1. " in bot.telegram.last_text(U) and "video 15 s" in bot.telegram.last_text(U)
    resend, reroll = (d for _, d in bot.telegram.last_buttons(U))
    await bot.users.tap(U, resend)
    again = bot.telegram.sent("sendVideo", chat_id=U)[-1]
    assert again.get("video") == "vid-out" and again.files == {}
    await bot.users.tap(U, reroll)
    await bot.settle()
    first, second = (run["input"]["params"] for run in fake_runpod.runs)
    assert second["duration"] == first["duration"] == 15 and second["photo"] == first["photo"]
    assert await bot.ledger.balance(U) == 13 - 12


async def test_a_style_from_settings_runs_and_is_named_in_the_caption(bot: Bot, fake_runpod: FakeRunPod) -> None:
    if importlib.util.find_spec("workflows.styles") is None:
        pytest.skip("workflows.styles is not here yet (features-worker)")
    await bot.users.send(U, "/settings", lang="ru")
    assert ("✓ Без стиля", "set:style:none") in bot.telegram.last_buttons(U)
    await bot.users.tap(U, "set:style:cinematic")
    assert "Стиль: Кино" in bot.telegram.last_text(U)
    fake_runpod.script = lambda _: [image_done(style="cinematic")]
    photo = await make_image(bot)
    params = fake_runpod.runs[0]["input"]["params"]
    assert params["style"] == "cinematic"
    sdxl = get_preset("sdxl")
    assert sdxl is not None
    sdxl.params_model.model_validate(params)  # what the worker will accept
    assert "стиль Кино" in str(photo.get("caption"))
