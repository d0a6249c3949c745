"""Stars payments exactly once across crashes: the ledger reconciled with Telegram's getStarTransactions."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.app import STARS
from bot.runpod_client import RunPodSettings
from bot.stars import StarsReconciler
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.harness import ADMIN, Bot, running_bot
from tests.bot.waiting import eventually

U = 5001
PAYLOAD = f"pack:s:10:50:{U}"


def thanks(telegram: FakeTelegram) -> list[str]:
    return [t for t in telegram.texts(U) if t.startswith("Thank you")]


def reconciler(bot: Bot) -> StarsReconciler:
    stars: StarsReconciler = bot.app.bot_data[STARS]
    return stars


async def test_a_payment_lost_in_a_crash_is_credited_once_after_the_restart(
    redis: Redis, runpod_settings: RunPodSettings
) -> None:
    telegram = FakeTelegram()
    async with running_bot(redis, runpod_settings, telegram=telegram) as first:
        await first.users.send(U, "/buy")
        await first.users.tap(U, "buy:s")
        await first.users.pre_checkout(U, PAYLOAD, 50)
        # Telegram charged the user and the bot acknowledged the successful_payment update, then the process
        # died before handling it: the charge exists only in Telegram's transaction list.
        telegram.star_payment(U, PAYLOAD, 50, "charge-lost")
    assert await first.ledger.balance(U) == 3

    async with running_bot(redis, runpod_settings, telegram=telegram) as second:

        async def credited() -> bool:
            return await second.ledger.balance(U) == 13

        await eventually(credited)
        assert thanks(telegram) == ["Thank you! Added: 10 credits. Balance: 13."]
        # Had the update survived after all, its late delivery changes nothing.
        await second.users.paid(U, PAYLOAD, 50, "charge-lost")
        await reconciler(second).run_once()
    async with running_bot(redis, runpod_settings, telegram=telegram) as third:
        await reconciler(third).run_once()
        assert await third.ledger.balance(U) == 13
        assert (await third.ledger.stats())["credits_sold"] == 10
    assert len(thanks(telegram)) == 1
    assert [e.reason for e in await first.ledger.history()] == ["welcome", "payment"]


async def test_periodic_pass_credits_a_payment_whose_update_never_came(
    redis: Redis, runpod_settings: RunPodSettings
) -> None:
    telegram = FakeTelegram()
    async with running_bot(redis, runpod_settings, telegram=telegram, stars_reconcile_interval_s=0.05) as bot:
        await bot.users.send(U, "/start")
        await eventually(lambda: len(telegram.sent("getStarTransactions")) >= 1)  # the pass at start
        telegram.star_payment(U, PAYLOAD, 50, "charge-late")

        async def credited() -> bool:
            return await bot.ledger.balance(U) == 13

        await eventually(credited)
        # Later passes start after what was done (the cursor moved), and credit nothing twice.
        await eventually(lambda: int(telegram.sent("getStarTransactions")[-1].get("offset") or 0) == 1)
        assert await bot.ledger.balance(U) == 13


async def test_a_refund_made_outside_the_bot_takes_the_credits_back_once(
    redis: Redis, runpod_settings: RunPodSettings
) -> None:
    telegram = FakeTelegram()
    async with running_bot(redis, runpod_settings, telegram=telegram) as bot:
        await bot.users.paid(U, PAYLOAD, 50, "charge-1")
        assert await bot.ledger.balance(U) == 13
        telegram.star_refund("charge-1")  # e.g. Telegram support refunded the user
        await reconciler(bot).run_once()
        assert await bot.ledger.balance(U) == 3
        assert (await bot.ledger.payment("charge-1") or {})["state"] == "refunded"
        await bot.users.send(ADMIN, "/refund charge-1")
        assert bot.telegram.last_text(ADMIN) == "Already refunded."
        await reconciler(bot).run_once()
        assert await bot.ledger.balance(U) == 3
        stats = await bot.ledger.stats()
        assert (stats["credits_sold"], stats["stars_refunded"]) == (0, 50)


async def test_a_refund_of_spent_credits_stops_at_zero_and_is_counted(
    redis: Redis, runpod_settings: RunPodSettings
) -> None:
    telegram = FakeTelegram()
    async with running_bot(redis, runpod_settings, telegram=telegram) as bot:
        await bot.users.paid(U, PAYLOAD, 50, "charge-1")
        await bot.ledger.grant(U, -9, admin=0)  # spent all but 4
        telegram.star_refund("charge-1")
        await reconciler(bot).run_once()
        assert await bot.ledger.balance(U) == 0
        stats = await bot.ledger.stats()
        assert stats["credits_unrecovered"] == 6 and stats["credits_sold"] == 6


async def test_a_refund_interrupted_before_its_commit_is_closed_without_taking_twice(
    redis: Redis, runpod_settings: RunPodSettings
) -> None:
    telegram = FakeTelegram()
    async with running_bot(redis, runpod_settings, telegram=telegram) as bot:
        await bot.users.paid(U, PAYLOAD, 50, "charge-1")
        # /refund took the credits back and Telegram refunded the Stars; the process died before the commit.
        assert (await bot.ledger.refund_payment("charge-1", "begin")).ok
        await bot.app.bot.refund_star_payment(U, "charge-1")
        await reconciler(bot).run_once()
        assert await bot.ledger.balance(U) == 3
        assert (await bot.ledger.payment("charge-1") or {})["state"] == "refunded"
        assert [e.reason for e in await bot.ledger.history()] == ["welcome", "payment", "payment_refund"]


async def test_a_first_time_payer_credited_by_reconciliation_keeps_the_credits(
    redis: Redis, runpod_settings: RunPodSettings
) -> None:
    telegram = FakeTelegram()
    telegram.star_payment(U, PAYLOAD, 50, "charge-1")  # paid (the invoice came from elsewhere), update lost
    async with running_bot(redis, runpod_settings, telegram=telegram) as bot:
        await reconciler(bot).run_once()
        await bot.users.send(U, "/start")  # the user's first update: not taken for a new user
        assert await bot.ledger.balance(U) == 13
        assert "Welcome back! Your balance: 13 credits." in bot.telegram.last_text(U)
