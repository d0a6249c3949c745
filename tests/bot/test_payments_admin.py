"""Stars payments, admin commands, banned users, broadcasts, restarts and a second bot process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.runpod_client import RunPodSettings
from tests.bot.fake_runpod import HOLD, FakeRunPod, completed_image
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.harness import ADMIN, Bot, running_bot
from tests.bot.waiting import eventually

U = 3001


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:
    async with running_bot(redis, runpod_settings) as b:
        yield b


async def buy_pack(bot: Bot, uid: int, pack: str = "s") -> str:
    """/buy, press a pack; returns the invoice payload."""
    await bot.users.send(uid, "/buy")
    await bot.users.tap(uid, f"buy:{pack}")
    invoice = bot.telegram.sent("sendInvoice", chat_id=uid)[-1]
    return str(invoice.get("payload"))


# Payments -----------------------------------------------------------------------------------------------------


async def test_buy_shows_packs_and_sends_a_stars_invoice(bot: Bot) -> None:
    await bot.users.send(U, "/buy")
    assert bot.telegram.last_buttons(U) == [
        ("10 credits · 50 ⭐", "buy:s"),
        ("50 credits · 200 ⭐", "buy:m"),
        ("150 credits · 500 ⭐", "buy:l"),
    ]
    await bot.users.tap(U, "buy:m")
    [invoice] = bot.telegram.sent("sendInvoice", chat_id=U)
    assert invoice.get("currency") == "XTR"
    assert invoice.get("prices") == [{"label": "50 credits", "amount": 200}]
    assert not invoice.get("provider_token")


async def test_pre_checkout_accepts_only_the_offer_as_sold(bot: Bot) -> None:
    payload = await buy_pack(bot, U)
    await bot.users.pre_checkout(U, payload, 50)
    await bot.users.pre_checkout(U, payload, 1)  # a tampered amount
    await bot.users.pre_checkout(U, "pack:s:10:50:999", 50)  # another user's invoice
    await bot.users.pre_checkout(U, payload, 50, currency="USD")
    answers = [c.get("ok") for c in bot.telegram.sent("answerPreCheckoutQuery")]
    assert answers == [True, False, False, False]


async def test_successful_payment_credits_once_per_charge(bot: Bot) -> None:
    payload = await buy_pack(bot, U)
    await bot.users.paid(U, payload, 50, "charge-1")
    await bot.users.paid(U, payload, 50, "charge-1")  # Telegram delivered the same payment twice
    assert await bot.ledger.balance(U) == 3 + 10
    assert [t for t in bot.telegram.texts(U) if t.startswith("Thank you")] == [
        "Thank you! Added: 10 credits. Balance: 13."
    ]
    await bot.users.paid(U, payload, 50, "charge-2")  # the old invoice's Pay button again: a new payment
    assert await bot.ledger.balance(U) == 23


async def test_admin_refund_takes_the_credits_back_first(bot: Bot) -> None:
    payload = await buy_pack(bot, U)
    await bot.users.paid(U, payload, 50, "charge-1")
    await bot.users.send(ADMIN, "/refund charge-1")
    [refund] = bot.telegram.sent("refundStarPayment")
    assert (refund.get("user_id"), refund.get("telegram_payment_charge_id")) == (U, "charge-1")
    assert await bot.ledger.balance(U) == 3
    assert "Refunded 50 Stars" in bot.telegram.last_text(ADMIN)
    await bot.users.send(ADMIN, "/refund charge-1")
    assert bot.telegram.last_text(ADMIN) == "Already refunded."


async def test_admin_refund_refused_when_credits_were_spent(bot: Bot) -> None:
    payload = await buy_pack(bot, U)
    await bot.users.paid(U, payload, 50, "charge-1")
    await bot.ledger.grant(U, -5, admin=0)  # spent
    await bot.users.send(ADMIN, "/refund charge-1")
    assert "already spent" in bot.telegram.last_text(ADMIN)
    assert bot.telegram.sent("refundStarPayment") == [] and await bot.ledger.balance(U) == 8


async def test_telegram_refusing_a_refund_gives_the_credits_back(bot: Bot) -> None:
    payload = await buy_pack(bot, U)
    await bot.users.paid(U, payload, 50, "charge-1")
    bot.telegram.fail("refundStarPayment", 400, "Bad Request: CHARGE_NOT_FOUND")
    await bot.users.send(ADMIN, "/refund charge-1")
    assert "credits were given back" in bot.telegram.last_text(ADMIN)
    assert await bot.ledger.balance(U) == 13


# Admin --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["/stats", "/grant 1 5", "/ban 1", "/unban 1", "/broadcast hi", "/refund x"])
async def test_admin_commands_do_not_exist_for_others(bot: Bot, command: str) -> None:
    await bot.users.send(U, command)
    assert bot.telegram.last_text(U) == "I don't know that command. /help lists what I can do."


async def test_stats(bot: Bot, fake_runpod: FakeRunPod) -> None:
    payload = await buy_pack(bot, U)
    await bot.users.paid(U, payload, 50, "c1")
    await bot.users.send(U, "/imagine a cat")
    await bot.users.tap(U, bot.telegram.last_buttons(U)[0][1])
    await bot.settle()
    await bot.users.send(ADMIN, "/stats")
    text = bot.telegram.last_text(ADMIN)
    assert "Users: 1" in text  # admin commands register nobody
    assert "charged 1, refunded 0, total 1" in text
    assert "Credits: sold 10, spent 1, refunded 0" in text
    assert "Queue depth: 0/50" in text


async def test_grant(bot: Bot) -> None:
    await bot.users.send(U, "/start")
    await bot.users.send(ADMIN, f"/grant {U} 7")
    assert bot.telegram.last_text(ADMIN) == f"User {U}: balance 10."
    await bot.users.send(ADMIN, f"/grant {U} -20")
    assert "cannot go below zero" in bot.telegram.last_text(ADMIN)
    await bot.users.send(ADMIN, "/grant 424242 1")
    assert "never started" in bot.telegram.last_text(ADMIN)
    await bot.users.send(ADMIN, "/grant nonsense")
    assert bot.telegram.last_text(ADMIN).startswith("Usage:")


async def test_banned_user_is_stopped_everywhere(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/imagine a cat")
    draft = bot.telegram.last_buttons(U)[0][1]
    await bot.users.send(ADMIN, f"/ban {U}")
    assert bot.telegram.last_text(ADMIN) == f"User {U} banned."
    await bot.users.send(U, "/balance")
    assert bot.telegram.last_text(U) == "Your access to this bot is blocked."
    await bot.users.tap(U, draft)
    assert [c.get("text") for c in bot.telegram.sent("answerCallbackQuery")][
        -1
    ] == "Your access to this bot is blocked."
    await bot.users.pre_checkout(U, "pack:s:10:50:3001", 50)
    assert bot.telegram.sent("answerPreCheckoutQuery")[-1].get("ok") is False
    # Money Telegram already took is still credited.
    await bot.users.paid(U, "pack:s:10:50:3001", 50, "charge-late")
    assert await bot.ledger.balance(U) == 13
    assert fake_runpod.runs == []
    await bot.users.send(ADMIN, f"/unban {U}")
    await bot.users.send(U, "/balance")
    assert bot.telegram.last_text(U).startswith("Balance: 13 credits.")


async def test_broadcast_reports_delivered_and_failed(bot: Bot) -> None:
    for uid in (1, 2, 3):
        await bot.users.send(uid, "/start")
    bot.telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=1)
    await bot.users.send(ADMIN, "/broadcast New styles are here!")
    await eventually(lambda: "finished" in bot.telegram.last_text(ADMIN))
    assert bot.telegram.last_text(ADMIN).endswith("delivered 2, failed 1.")
    got = {int(c.get("chat_id")) for c in bot.telegram.sent("sendMessage") if c.get("text") == "New styles are here!"}
    assert got == {2, 3}


async def test_broadcast_resumes_after_a_restart(redis: Redis, runpod_settings: RunPodSettings) -> None:
    telegram = FakeTelegram()

    def hellos() -> list[int]:
        return [int(c.get("chat_id")) for c in telegram.sent("sendMessage") if c.get("text") == "hello"]

    async with running_bot(redis, runpod_settings, telegram=telegram, broadcast_rate_per_s=1) as first:
        for uid in range(1, 6):
            await first.users.send(uid, "/start")
        await first.users.send(ADMIN, "/broadcast hello")
        await eventually(lambda: len(hellos()) >= 1)
    assert len(hellos()) < 5  # stopped half-way
    async with running_bot(redis, runpod_settings, telegram=telegram, broadcast_rate_per_s=1000):
        await eventually(lambda: "finished" in telegram.last_text(ADMIN))
    assert sorted(hellos()) == [1, 2, 3, 4, 5]  # every user once, nobody twice
    assert telegram.last_text(ADMIN).endswith("delivered 5, failed 0.")


# Restarts and several processes --------------------------------------------------------------------------------


async def test_restart_with_jobs_in_flight(
    redis: Redis, runpod_settings: RunPodSettings, fake_runpod: FakeRunPod
) -> None:
    fake_runpod.script = lambda _: [HOLD]
    telegram = FakeTelegram()
    async with running_bot(redis, runpod_settings, telegram=telegram) as first:
        for uid in (1, 2):
            await first.users.send(uid, "/imagine a ship")
            await first.users.tap(uid, first.telegram.last_buttons(uid)[0][1])
        await eventually(lambda: len(fake_runpod.runs) == 2)
    # The bot is down; the endpoint finishes both jobs meanwhile.
    fake_runpod.finish_held(completed_image())
    async with running_bot(redis, runpod_settings, telegram=telegram) as second:
        await second.settle()
        assert len(fake_runpod.runs) == 2  # picked up, not submitted again
        assert {int(c.get("chat_id")) for c in telegram.sent("sendPhoto")} == {1, 2}
        assert await second.ledger.balance(1) == 2 and await second.ledger.balance(2) == 2


async def test_two_bot_processes_share_the_work_without_doubling_it(
    redis: Redis, runpod_settings: RunPodSettings, fake_runpod: FakeRunPod
) -> None:
    telegram = FakeTelegram()
    async with (
        running_bot(redis, runpod_settings, telegram=telegram) as a,
        running_bot(redis, runpod_settings, telegram=telegram) as b,
    ):
        for uid in range(1, 7):
            front = a if uid % 2 else b  # updates arrive at either process
            await front.users.send(uid, "/imagine a tree")
            await front.users.tap(uid, telegram.last_buttons(uid)[0][1])
        await a.settle()
        await b.settle()
    assert len(fake_runpod.runs) == 6
    assert sorted(int(c.get("chat_id")) for c in telegram.sent("sendPhoto")) == [1, 2, 3, 4, 5, 6]
