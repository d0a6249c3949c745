"""The whole bot through Telegram updates: commands, buttons, jobs on the endpoint, credits in Redis."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.runpod_client import RunPodSettings
from tests.bot.fake_runpod import HOLD, PNG_B64, FakeRunPod, completed_image, completed_video, failed, queued, running
from tests.bot.fake_telegram import BOT_USERNAME
from tests.bot.harness import Bot, running_bot
from tests.bot.photos import face_jpeg
from tests.bot.waiting import eventually
from workflows.contract import ErrorCode
from workflows.liveportrait import LivePortraitParams

U = 1001  # a user


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:
    async with running_bot(redis, runpod_settings) as b:
        yield b


async def imagine(bot: Bot, uid: int = U, prompt: str = "a red fox", ratio: str = "16:9") -> str:
    """Ask for an image and press the ratio; returns the job id."""
    await bot.users.send(uid, f"/imagine {prompt}")
    data = next(d for _, d in bot.telegram.last_buttons(uid) if d.endswith(f":{ratio}"))
    await bot.users.tap(uid, data)
    return data.split(":")[1]


def durations(bot: Bot, uid: int = U) -> list[str]:
    """The duration buttons' data under the last /animate offer."""
    return [d for _, d in bot.telegram.last_buttons(uid) if d.startswith("dur:")]


# Commands -----------------------------------------------------------------------------------------------------


async def test_start_welcomes_a_new_user_with_free_credits(bot: Bot) -> None:
    await bot.users.send(U, "/start")
    assert "You have 3 credits" in bot.telegram.last_text(U)
    await bot.users.send(U, "/start")
    assert "Welcome back" in bot.telegram.last_text(U) and "3 credits" in bot.telegram.last_text(U)
    assert await bot.ledger.balance(U) == 3


async def test_russian_users_get_russian_texts_and_can_switch(bot: Bot) -> None:
    await bot.users.send(U, "/start", lang="ru")
    assert "Привет" in bot.telegram.last_text(U)
    await bot.users.send(U, "/language")
    assert ("English", "lang:en") in bot.telegram.last_buttons(U)
    await bot.users.tap(U, "lang:en")
    await bot.users.send(U, "/balance", lang="ru")
    assert bot.telegram.last_text(U).startswith("Balance: 3 credits.")


async def test_referral_link_pays_the_inviter_once(bot: Bot) -> None:
    inviter, invitee = 2001, 2002
    await bot.users.send(inviter, "/referral")
    assert f"https://t.me/{BOT_USERNAME}?start=ref_{inviter}" in bot.telegram.last_text(inviter)
    await bot.users.send(invitee, f"/start ref_{inviter}")
    assert "+2 credits" in bot.telegram.last_text(inviter)
    await bot.users.send(invitee, f"/start ref_{inviter}")  # not new any more
    await bot.users.send(inviter, f"/start ref_{inviter}")  # nor the inviter himself
    assert await bot.ledger.balance(inviter) == 5 and await bot.ledger.balance(invitee) == 3
    await bot.users.send(inviter, "/referral")
    assert "Invited so far: 1" in bot.telegram.last_text(inviter)


@pytest.mark.parametrize(
    ("command", "expected"), [("/help", "/imagine"), ("/terms", "Terms"), ("/paysupport", "Payment problems")]
)
async def test_information_commands(bot: Bot, command: str, expected: str) -> None:
    await bot.users.send(U, command)
    assert expected in bot.telegram.last_text(U)


async def test_balance_lists_recent_changes(bot: Bot) -> None:
    await imagine(bot)
    await bot.settle()
    await bot.users.send(U, "/balance")
    text = bot.telegram.last_text(U)
    assert text.startswith("Balance: 2 credits.")
    assert "-1  generation  → 2" in text and "+3  welcome bonus  → 3" in text


async def test_unknown_command_and_plain_text(bot: Bot) -> None:
    await bot.users.send(U, "/frobnicate")
    assert "I don't know that command" in bot.telegram.last_text(U)
    await bot.users.send(U, "hello")
    assert "/imagine" in bot.telegram.last_text(U)


# Images -------------------------------------------------------------------------------------------------------


async def test_imagine_end_to_end(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [queued(), running(40), running(80), completed_image()]
    await bot.users.send(U, "/imagine a red fox in the snow")
    offer = bot.telegram.last_text(U)
    assert "Price: 1 credit (balance 3)" in offer and "a red fox in the snow" in offer
    assert ("16:9", bot.telegram.last_buttons(U)[1][1]) in bot.telegram.last_buttons(U)
    status_id = bot.users.last_keyboard_message(U)
    data = next(d for _, d in bot.telegram.last_buttons(U) if d.endswith(":16:9"))
    await bot.users.tap(U, data)
    await bot.settle()
    assert fake_runpod.runs[0]["input"] == {
        "preset": "sdxl",
        "params": {"prompt": "a red fox in the snow", "aspect_ratio": "16:9"},
    }
    edits = [c.get("text") for c in bot.telegram.sent("editMessageText", chat_id=U) if c.get("message_id") == status_id]
    assert "⏳ Queued (position 1)…" in edits and "🎨 Working… 40%" in edits and "🎨 Working… 80%" in edits
    assert "📤 Sending the result…" in edits and edits[-1] == "✅ Done. 1 credit spent, balance 2."
    [photo] = bot.telegram.sent("sendPhoto", chat_id=U)
    assert photo.files["photo"][1] == base64.b64decode(PNG_B64)
    assert photo.get("caption") == "a red fox in the snow"
    assert await bot.ledger.balance(U) == 2
    # The original file on request.
    orig = next(d for _, d in bot.telegram.buttons(photo) if d.startswith("orig:"))
    await bot.users.tap(U, orig, message_id=photo.message_id)
    await eventually(lambda: len(bot.telegram.sent("sendDocument", chat_id=U)) == 1)  # a non-blocking handler
    [doc] = bot.telegram.sent("sendDocument", chat_id=U)
    assert doc.files["document"][1] == base64.b64decode(PNG_B64)


async def test_prompt_typed_after_the_command(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/imagine")
    assert "Send me the prompt" in bot.telegram.last_text(U)
    await bot.users.send(U, "a lighthouse at dusk")
    assert "a lighthouse at dusk" in bot.telegram.last_text(U)
    await bot.users.tap(U, next(d for _, d in bot.telegram.last_buttons(U) if d.endswith(":1:1")))
    await bot.settle()
    assert fake_runpod.runs[0]["input"]["params"] == {"prompt": "a lighthouse at dusk", "aspect_ratio": "1:1"}


async def test_bad_prompt_is_refused_before_any_charge(bot: Bot) -> None:
    await bot.users.send(U, "/imagine " + "x" * 1200)
    assert "too long: 1200 characters, the limit is 1000 characters" in bot.telegram.last_text(U)
    assert await bot.ledger.open_jobs() == []


async def test_double_tapped_button_runs_and_charges_once(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/imagine a cat")
    data = bot.telegram.last_buttons(U)[0][1]
    await bot.users.tap(U, data)
    await bot.users.tap(U, data)
    await bot.settle()
    assert len(fake_runpod.runs) == 1
    assert len(bot.telegram.sent("sendPhoto", chat_id=U)) == 1
    assert await bot.ledger.balance(U) == 2


async def test_insufficient_funds(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, -3, admin=0)
    await imagine(bot)
    assert bot.telegram.last_text(U) == (
        "Not enough credits: this costs 1 credit, you have 0. Buy more and continue with one tap."
    )
    assert fake_runpod.runs == []
    await bot.users.tap(U, "buy:menu")  # the button under the refusal
    assert bot.telegram.last_buttons(U)[0] == ("10 credits · 50 ⭐", "buy:s")


async def test_a_request_made_while_a_job_runs_is_queued_behind_it(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [HOLD]
    await imagine(bot)
    await eventually(lambda: len(fake_runpod.runs) == 1)
    await imagine(bot, prompt="another")
    assert bot.telegram.last_text(U) == "⏳ Waiting for your previous job to finish (1 in your queue)…"
    assert await bot.ledger.balance(U) == 2  # nothing is held for a queued request yet
    fake_runpod.script = lambda _: [completed_image()]
    fake_runpod.finish_held(completed_image())
    await eventually(lambda: len(fake_runpod.runs) == 2)
    await bot.settle()
    assert [r["input"]["params"]["prompt"] for r in fake_runpod.runs] == ["a red fox", "another"]
    assert len(bot.telegram.sent("sendPhoto", chat_id=U)) == 2 and await bot.ledger.balance(U) == 1


async def test_the_per_user_queue_is_bounded_and_cancel_empties_it(
    redis: Redis, runpod_settings: RunPodSettings, fake_runpod: FakeRunPod
) -> None:
    fake_runpod.script = lambda _: [HOLD]
    async with running_bot(redis, runpod_settings, user_queue_max=1) as bot:
        await imagine(bot)
        await eventually(lambda: len(fake_runpod.runs) == 1)
        await imagine(bot, prompt="second")
        await imagine(bot, prompt="third")
        assert bot.telegram.last_text(U) == "You already have 1 request waiting. Wait for them or /cancel."
        await bot.users.send(U, "/cancel")
        await bot.settle()
        assert "✖ Cancelled." in bot.telegram.texts(U)
        assert len(fake_runpod.runs) == 1 and await bot.ledger.balance(U) == 3


async def test_queue_full(redis: Redis, runpod_settings: RunPodSettings, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [HOLD]
    async with running_bot(redis, runpod_settings, max_active_jobs=1) as bot:
        await imagine(bot, uid=1)
        await imagine(bot, uid=2)
        assert "very busy" in bot.telegram.last_text(2)
        assert await bot.ledger.balance(2) == 3
        await eventually(lambda: len(fake_runpod.jobs) == 1)  # its first step (submit) runs on the queue
        fake_runpod.finish_held(completed_image())
        await bot.settle()


async def test_cancel_mid_run_refunds(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [running(30), HOLD]
    await imagine(bot)
    await eventually(lambda: "🎨 Working… 30%" in bot.telegram.texts(U))
    await bot.users.send(U, "/cancel")
    await bot.settle()
    assert len(fake_runpod.cancels) == 1
    assert "✖ Cancelled.\nRefunded to your balance: 1 credit." in bot.telegram.texts(U)
    assert await bot.ledger.balance(U) == 3
    await bot.users.send(U, "/cancel")
    assert bot.telegram.last_text(U) == "You have no running job."


async def test_cancel_button_on_the_status_message(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [HOLD]
    job_id = await imagine(bot)
    await eventually(lambda: len(fake_runpod.runs) == 1)
    await bot.users.tap(U, f"cancel:{job_id}")
    await bot.users.tap(7777, f"cancel:{job_id}")  # someone else's job: nothing happens
    await bot.settle()
    assert await bot.ledger.balance(U) == 3 and len(fake_runpod.cancels) == 1


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (ErrorCode.NO_FACE, "couldn't find a face"),
        (ErrorCode.INVALID_INPUT, "could not be processed"),
        (ErrorCode.MODEL_MISSING, "missing a model"),
        (ErrorCode.NODE_FAILED, "generation step failed"),
        (ErrorCode.OUT_OF_MEMORY, "ran out of memory"),
        (ErrorCode.STORAGE_FAILED, "could not be stored"),
        (ErrorCode.INTERNAL, "Something went wrong"),
    ],
)
async def test_each_failure_is_explained_and_refunded_once(
    bot: Bot, fake_runpod: FakeRunPod, code: ErrorCode, text: str
) -> None:
    fake_runpod.script = lambda _: [queued(), failed(code)]
    await imagine(bot)
    await bot.settle()
    final = bot.telegram.last_text(U)
    assert text in final and final.endswith("Refunded to your balance: 1 credit.")
    assert await bot.ledger.balance(U) == 3
    assert [e.reason for e in await bot.ledger.recent(U)].count("refund") == 1


async def test_timed_out_on_the_endpoint(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [{"status": "TIMED_OUT"}]
    await imagine(bot)
    await bot.settle()
    assert "took too long" in bot.telegram.last_text(U) and await bot.ledger.balance(U) == 3


# Telegram's errors ---------------------------------------------------------------------------------------------


async def test_flood_control_is_waited_out(bot: Bot) -> None:
    bot.telegram.flood("sendPhoto", retry_after=1)
    await imagine(bot)
    await bot.settle()
    assert len(bot.telegram.sent("sendPhoto!failed")) == 1 and len(bot.telegram.sent("sendPhoto")) == 1
    assert await bot.ledger.balance(U) == 2


@pytest.mark.parametrize(
    ("refusal", "sent_anew"),
    [("Bad Request: message is not modified", 0), ("Bad Request: message to edit not found", 1)],
)
async def test_message_not_modified_is_harmless(
    bot: Bot, fake_runpod: FakeRunPod, refusal: str, sent_anew: int
) -> None:
    """A status edit refused as "not modified" already shows its text; any other refusal sends the text anew."""
    fake_runpod.script = lambda _: [{"status": "TIMED_OUT"}]
    await imagine(bot)
    for _ in range(20):  # every status edit from here on is refused
        bot.telegram.fail("editMessageText", 400, refusal, chat_id=U)
    await bot.settle()
    refused = [str(c.get("text")) for c in bot.telegram.sent("editMessageText!failed", chat_id=U)]
    assert refused and "took too long" in refused[-1], "the final status edit was refused"
    anew = [c for c in bot.telegram.sent("sendMessage", chat_id=U) if "took too long" in str(c.get("text"))]
    assert len(anew) == sent_anew
    assert await bot.ledger.balance(U) == 3


async def test_photo_refused_as_too_big_is_sent_as_a_file(bot: Bot) -> None:
    bot.telegram.fail("sendPhoto", 400, "Bad Request: file is too big")
    await imagine(bot)
    await bot.settle()
    assert len(bot.telegram.sent("sendDocument", chat_id=U)) == 1 and await bot.ledger.balance(U) == 2


async def test_result_the_user_never_received_is_refunded(bot: Bot) -> None:
    # Telegram down for every try of the delivery (one 502 is tried again; a user who blocked the bot:
    # tests/bot/test_ops.py).
    for _ in range(bot.services.settings.deliver_attempts):
        bot.telegram.fail("sendPhoto", 502, "Bad Gateway")
    await imagine(bot)
    await bot.settle()
    assert await bot.ledger.balance(U) == 3
    assert "couldn't send you the result" in bot.telegram.last_text(U)


# Videos -------------------------------------------------------------------------------------------------------

FACE = face_jpeg()


async def test_animate_end_to_end(bot: Bot, fake_runpod: FakeRunPod) -> None:
    mp4 = b"\x00\x00\x00\x18ftypmp42-video"
    fake_runpod.script = lambda _: [running(50), completed_video(len(mp4), data_b64=base64.b64encode(mp4).decode())]
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, 10, admin=0)
    await bot.users.send(U, "/animate")
    assert "Send me a photo of one face" in bot.telegram.last_text(U)
    await bot.users.send_photo(U, FACE)
    labels = [label for label, _ in bot.telegram.last_buttons(U)]
    assert labels == ["😌 Calm", "😊 Cheerful", "🙂 Nods", "10 s · 4 cr.", "15 s · 6 cr.", "20 s · 8 cr."]
    await bot.users.tap(U, durations(bot)[1])
    await bot.settle()
    run = fake_runpod.runs[0]["input"]
    assert run["preset"] == "liveportrait" and run["params"]["duration"] == 15
    assert base64.b64decode(run["params"]["photo"]) == FACE  # the largest size, not the thumbnail
    LivePortraitParams.model_validate(run["params"])  # what the worker will accept
    [video] = bot.telegram.sent("sendVideo", chat_id=U)
    assert video.files["video"][1] == mp4
    assert await bot.ledger.balance(U) == 13 - 6


async def test_photo_with_caption_goes_straight_to_durations(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send_photo(U, FACE, caption="/animate")
    assert len(durations(bot)) == 3
    await bot.ledger.grant(U, 10, admin=0)
    await bot.users.send_photo(U, FACE, caption="smiling")  # a caption that is not a command picks the motion
    await bot.users.tap(U, durations(bot)[0])
    await bot.settle()
    assert fake_runpod.runs[0]["input"]["params"]["prompt"] == "smiling"


async def test_the_largest_photo_size_under_the_limit_is_used(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, 10, admin=0)
    await bot.users.send_photo(U, FACE, size=25 * 1024 * 1024)  # the original is over the download limit
    await bot.users.tap(U, durations(bot)[0])
    await bot.settle()
    assert base64.b64decode(fake_runpod.runs[0]["input"]["params"]["photo"]) == FACE + b"medium"


async def test_photos_over_the_limit_and_other_files_are_refused(bot: Bot) -> None:
    await bot.users.send_photo(U, FACE, size=30 * 1024 * 1024, medium_size=9 * 1024 * 1024)
    assert "too large (9 MB). Please send one of at most 7 MB." in bot.telegram.last_text(U)
    await bot.users.send_document(U, "image/png", 50 * 1024 * 1024)
    assert "too large (50 MB)" in bot.telegram.last_text(U)
    await bot.users.send_document(U, "application/pdf", 1000)
    assert "This file (PDF) is not a photo" in bot.telegram.last_text(U)
    bot.telegram.files["doc-1001"] = FACE
    await bot.users.send_document(U, "image/png", 1000)
    assert len(durations(bot)) == 3


async def test_video_over_50_mb_is_sent_as_a_link(bot: Bot, fake_runpod: FakeRunPod) -> None:
    url = "https://bucket.example/outputs/v.mp4?X-Amz-Signature=abc"
    fake_runpod.script = lambda _: [completed_video(60 * 1024 * 1024, url=url)]
    await bot.users.send_photo(U, FACE)
    await bot.ledger.grant(U, 10, admin=0)
    await bot.users.tap(U, durations(bot)[0])
    await bot.settle()
    assert any(
        url in text and "too large for Telegram (63 MB of at most 50 MB)" in text for text in bot.telegram.texts(U)
    )
    assert bot.telegram.sent("sendVideo") == []


async def test_video_over_50_mb_without_a_link_is_refunded(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [completed_video(60 * 1024 * 1024, data_b64="AAAA")]
    await bot.users.send(U, "/start")
    await bot.ledger.grant(U, 10, admin=0)
    await bot.users.send_photo(U, FACE)
    await bot.users.tap(U, durations(bot)[0])
    await bot.settle()
    assert await bot.ledger.balance(U) == 13
    assert "Refunded to your balance: 4 credits." in bot.telegram.last_text(U)


async def test_expired_or_foreign_draft(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/imagine a cat")
    data = bot.telegram.last_buttons(U)[0][1]
    await bot.users.tap(2222, data)  # another user's button data
    assert bot.telegram.last_text(2222) == "This request has expired. Please start again."
    await bot.users.tap(U, "ar:0000000000000000:1:1")
    assert fake_runpod.runs == []
