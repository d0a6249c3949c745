"""Operating in real Telegram: errors never silent, every button answered, users who block the bot, flood waits
that hold back only their own chat."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.logs import json_formatter
from bot.runpod_client import RunPodSettings
from tests.bot.fake_runpod import HOLD, FakeRunPod
from tests.bot.fake_telegram import Call
from tests.bot.harness import ADMIN, Bot, running_bot
from tests.bot.waiting import eventually

U = 6001
OTHER = 6002


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:
    async with running_bot(redis, runpod_settings) as b:
        yield b


def told(bot: Bot, uid: int) -> list[str]:
    """Every error notice the user got, as a message or as a tap's answer."""
    texts = bot.telegram.texts(uid) + [str(c.get("text")) for c in bot.telegram.sent("answerCallbackQuery")]
    return [t for t in texts if "went wrong on my side" in t or "что-то сломалось" in t]


# Errors -------------------------------------------------------------------------------------------------------


async def test_a_failing_handler_tells_the_user_once_and_the_admins_with_a_trace_id(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.users.send(U, "/start")
    bot.telegram.fail("sendMessage", 400, "Bad Request: can't parse entities", chat_id=U)
    with caplog.at_level(logging.ERROR, logger="bot.errors"):
        await bot.users.send(U, "/balance")
    [notice] = told(bot, U)
    trace = notice.split("(code ")[1].split(")")[0]
    [alert] = bot.telegram.texts(ADMIN)
    assert f"Error {trace} (user {U}): BadRequest" in alert and "Can't parse entities" in alert
    [record] = [r for r in caplog.records if r.getMessage() == "update failed"]
    assert (record.__dict__["trace_id"], record.__dict__["uid"]) == (trace, U)


async def test_the_notice_is_in_the_users_language(bot: Bot) -> None:
    await bot.users.send(U, "/start", lang="ru")
    bot.telegram.fail("sendMessage", 400, "Bad Request: can't parse entities", chat_id=U)
    await bot.users.send(U, "/balance", lang="ru")
    [notice] = told(bot, U)
    assert notice.startswith("❌ У меня что-то сломалось")  # noqa: RUF001


async def test_a_tap_whose_handler_fails_after_answering_still_tells_the_user(bot: Bot) -> None:
    await bot.users.send(U, "/buy")
    bot.telegram.fail("sendInvoice", 400, "Bad Request: STARS_INVOICE_INVALID", chat_id=U)
    await bot.users.tap(U, "buy:s")
    # Telegram takes one answer per tap (the handler's): the notice comes as a message instead.
    assert len(bot.telegram.sent("answerCallbackQuery!failed")) == 1
    assert len(told(bot, U)) == 1 and "went wrong" in bot.telegram.last_text(U)


@pytest.mark.parametrize("data", ["zzz:1", "nonsense", "ar:", "cancel:", "orig:gone", "dur:x:10"])
async def test_stale_or_unknown_buttons_are_answered(bot: Bot, data: str) -> None:
    await bot.users.send(U, "/start")
    await bot.users.tap(U, data)
    await eventually(lambda: bot.telegram.sent("answerCallbackQuery"))  # (orig: runs in the background)
    [answer] = bot.telegram.sent("answerCallbackQuery")  # the spinner stops, whatever the button was
    if ":" not in data or data.startswith("zzz"):
        assert answer.get("text") == "This button is no longer active."
    assert not told(bot, U) and not bot.telegram.texts(ADMIN)


# Users who block the bot ------------------------------------------------------------------------------------


async def start_held_job(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _: [HOLD]
    await bot.users.send(U, "/imagine a lighthouse")
    await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
    await eventually(lambda: "Working" in bot.telegram.last_text(U))  # running, its status message shown
    assert await bot.ledger.balance(U) == 2


def sends_after(bot: Bot, mark: int, uid: int) -> list[Call]:
    return [c for c in bot.telegram.calls[mark:] if int(c.get("chat_id", 0)) == uid and "!" not in c.method]


async def test_blocking_the_bot_cancels_and_refunds_the_running_job(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await start_held_job(bot, fake_runpod)
    mark = len(bot.telegram.calls)
    await bot.users.member(U, "kicked")
    await bot.settle()
    assert fake_runpod.cancels == list(fake_runpod.jobs)
    assert await bot.ledger.balance(U) == 3
    assert sends_after(bot, mark, U) == []  # not even the "cancelled, refunded" edit
    await bot.users.send(ADMIN, f"/broadcast hello {U}")
    await eventually(lambda: "finished" in bot.telegram.last_text(ADMIN))
    assert sends_after(bot, mark, U) == [] and bot.telegram.last_text(ADMIN).endswith("delivered 0, failed 1.")
    # Unblocked: the bot talks to the user again.
    await bot.users.member(U, "member")
    await bot.users.send(U, "/balance")
    assert bot.telegram.last_text(U).startswith("Balance: 3 credits.")


async def test_blocking_the_bot_also_drops_the_request_queued_behind_the_job(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await start_held_job(bot, fake_runpod)
    await bot.users.send(U, "/imagine a second lighthouse")
    await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
    await eventually(lambda: "Waiting for your previous job" in bot.telegram.last_text(U))
    await bot.users.member(U, "kicked")
    await bot.settle()
    assert len(fake_runpod.runs) == 1  # settling the cancelled job started nothing for a user who left
    assert await bot.ledger.balance(U) == 3 and await bot.ledger.open_jobs() == []


async def test_a_403_on_any_send_cancels_and_refunds_and_stops_sending(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await start_held_job(bot, fake_runpod)
    mark = len(bot.telegram.calls)
    bot.telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=U)
    await bot.users.send(OTHER, "/start")
    await bot.users.send(ADMIN, "/broadcast news")  # the user blocked the bot silently; this send finds out
    await eventually(lambda: "finished" in bot.telegram.last_text(ADMIN))
    await bot.settle()
    assert fake_runpod.cancels == list(fake_runpod.jobs)
    assert await bot.ledger.balance(U) == 3
    assert len(bot.telegram.sent("sendMessage!failed", chat_id=U)) == 1
    assert sends_after(bot, mark, U) == []
    assert (await bot.ledger.user(U)).get("blocked") == "1"


# Concurrency --------------------------------------------------------------------------------------------------


async def test_pre_checkout_is_answered_while_another_chat_waits_out_a_12s_flood(bot: Bot) -> None:
    buyer = OTHER
    await bot.users.send(U, "/start")
    await bot.users.send(buyer, "/buy")
    await bot.users.tap(buyer, "buy:s")
    payload = str(bot.telegram.sent("sendInvoice", chat_id=buyer)[-1].get("payload"))
    bot.telegram.fail("sendMessage", 429, "Too Many Requests: retry after 12", chat_id=U, retry_after=12)
    bot.users.through_queue = True  # as the updater delivers them: the update processor decides the order
    await bot.users.send(U, "/balance")
    await eventually(lambda: bot.telegram.sent("sendMessage!failed", chat_id=U))
    await bot.users.pre_checkout(buyer, payload, 50)
    await bot.users.send(buyer, "/balance")

    def balances(uid: int) -> list[Call]:
        return [c for c in bot.telegram.sent("sendMessage", chat_id=uid) if str(c.get("text")).startswith("Balance")]

    await eventually(lambda: balances(U), timeout_s=30)
    [flood] = bot.telegram.sent("sendMessage!failed", chat_id=U)
    [answer] = bot.telegram.sent("answerPreCheckoutQuery")
    [waited] = balances(U)
    [other] = balances(buyer)
    # The fake's own clock: the pre-checkout answer and the other chat's message went out during the wait.
    assert answer.get("ok") is True and flood.at < answer.at < waited.at and other.at < waited.at
    assert answer.at - flood.at < 10 <= waited.at - flood.at
    assert str(waited.get("text")).startswith("Balance: 3 credits.")


async def test_every_log_line_of_an_update_carries_its_trace_id(bot: Bot) -> None:
    capture = Lines()
    ptb = logging.getLogger("telegram.ext.ExtBot")
    saved = ptb.level
    logging.getLogger().addHandler(capture)
    ptb.setLevel(logging.DEBUG)
    try:
        await bot.users.send(U, "/start")
        bot.telegram.fail("sendMessage", 400, "Bad Request: can't parse entities", chat_id=U)
        bot.users.through_queue = True  # the real path: the update processor binds the trace id
        await bot.users.send(U, "/balance")
        await eventually(lambda: told(bot, U))
    finally:
        logging.getLogger().removeHandler(capture)
        ptb.setLevel(saved)
    trace = told(bot, U)[0].split("(code ")[1].split(")")[0]
    mine = {line["msg"].split(" with ")[0] for line in capture.lines if line["trace_id"] == trace}
    assert {"update failed", "Calling Bot API endpoint `sendMessage`"} <= mine  # ours and PTB's lines alike
    assert all(line["trace_id"] in (None, trace) for line in capture.lines)


class Lines(logging.Handler):
    """Log records as the production JSON lines, parsed."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(json_formatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_one_users_updates_keep_their_order_while_handled_concurrently(bot: Bot) -> None:
    bot.users.through_queue = True
    for uid in (U, OTHER):
        await bot.users.send(uid, "/imagine")  # then the prompt, right away: it must not overtake its command
        await bot.users.send(uid, f"a fox for {uid}")
    for uid in (U, OTHER):
        await eventually(lambda: f"a fox for {uid}" in bot.telegram.last_text(uid))  # noqa: B023 - awaited here
        assert bot.telegram.texts(uid)[0] == "Send me the prompt: what should the image show?"
