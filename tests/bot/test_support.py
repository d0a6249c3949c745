"""/paysupport reaches the admins with what they need, their answer reaches the user, a refund is one tap away."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.runpod_client import RunPodSettings
from tests.bot.fake_telegram import Call
from tests.bot.harness import ADMIN, Bot, running_bot

U = 8001
PAYLOAD = f"pack:s:10:50:{U}"
SECOND_ADMIN = 43


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:
    async with running_bot(redis, runpod_settings, admin_ids=[ADMIN, SECOND_ADMIN]) as b:
        yield b


def request_to(bot: Bot, admin: int) -> Call:
    [call] = [c for c in bot.telegram.sent("sendMessage", chat_id=admin) if "Support request" in str(c.get("text"))]
    return call


async def test_the_next_message_after_paysupport_reaches_every_admin_with_the_payments(bot: Bot) -> None:
    await bot.users.paid(U, PAYLOAD, 50, "charge-1")
    await bot.users.send(U, "/paysupport")
    assert "Write your message now" in bot.telegram.last_text(U)
    await bot.users.send(U, "I paid twice yesterday")
    assert bot.telegram.last_text(U) == "Sent to our team; the answer will come here."
    for admin in (ADMIN, SECOND_ADMIN):
        text = str(request_to(bot, admin).get("text"))
        assert f"from user {U}" in text and "I paid twice yesterday" in text
        assert "Balance: 13 credits" in text and "50 ⭐ → 10 credits · paid · charge-1" in text
        [(label, data)] = bot.telegram.buttons(request_to(bot, admin))
        assert label.startswith("↩ Refund 50 ⭐") and data.startswith("sref:")
    # Only the one message: the next one is ordinary again.
    await bot.users.send(U, "hello")
    assert bot.telegram.last_text(U).startswith("Use /imagine")


async def test_an_admins_reply_reaches_the_user(bot: Bot) -> None:
    await bot.users.send(U, "/paysupport", lang="ru")
    await bot.users.send(U, "где мои кредиты?", lang="ru")
    await bot.users.send(SECOND_ADMIN, "Credited now, sorry!", reply_to=request_to(bot, SECOND_ADMIN))
    assert bot.telegram.last_text(U) == "💬 Поддержка: Credited now, sorry!"
    assert bot.telegram.last_text(SECOND_ADMIN) == f"Sent to user {U}."
    await bot.users.send(ADMIN, f"/reply {U} Anything else?")
    assert bot.telegram.last_text(U) == "💬 Поддержка: Anything else?"
    assert bot.telegram.last_text(ADMIN) == f"Sent to user {U}."


async def test_a_reply_to_anything_else_is_an_ordinary_message(bot: Bot) -> None:
    await bot.users.send(ADMIN, "/start")
    welcome = bot.telegram.sent("sendMessage", chat_id=ADMIN)[-1]
    await bot.users.send(ADMIN, "hello", reply_to=welcome)
    assert bot.telegram.last_text(ADMIN).startswith("Use /imagine")
    assert not [c for c in bot.telegram.sent("sendMessage") if "Support" in str(c.get("text"))]


async def test_the_refund_button_refunds_the_payment_once(bot: Bot) -> None:
    await bot.users.paid(U, PAYLOAD, 50, "charge-1")
    await bot.users.send(U, "/paysupport")
    await bot.users.send(U, "please refund")
    [(_, data)] = bot.telegram.buttons(request_to(bot, ADMIN))
    await bot.users.tap(U, data)  # not an admin: nothing happens
    assert bot.telegram.sent("refundStarPayment") == []
    await bot.users.tap(ADMIN, data, message_id=request_to(bot, ADMIN).message_id)
    [refund] = bot.telegram.sent("refundStarPayment")
    assert (refund.get("user_id"), refund.get("telegram_payment_charge_id")) == (U, "charge-1")
    assert bot.telegram.last_text(ADMIN) == "Refunded 50 Stars; 10 credits taken back."
    assert await bot.ledger.balance(U) == 3
    await bot.users.tap(SECOND_ADMIN, data, message_id=request_to(bot, SECOND_ADMIN).message_id)
    assert bot.telegram.last_text(SECOND_ADMIN) == "Already refunded."
    assert len(bot.telegram.sent("refundStarPayment")) == 1


async def test_reply_is_admin_only(bot: Bot) -> None:
    await bot.users.send(U, f"/reply {ADMIN} hi")
    assert bot.telegram.last_text(U) == "I don't know that command. /help lists what I can do."
