"""Ledger amounts are integers in a safe range (|amount| <= MAX_AMOUNT, balances <= MAX_BALANCE, both far under
2^53) at every entry: settings refuse them at start-up, the Ledger refuses them, the Lua scripts refuse them on
their own (called directly on a real redis-server), and an admin's malformed /grant gets a clear reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from bot.ledger import LUA_DIR, MAX_AMOUNT, MAX_BALANCE, InvalidAmount, Ledger
from bot.runpod_client import RunPodSettings
from bot.settings import BotSettings
from tests.bot.conftest import fake_runpod, ledger, redis, redis_url, runpod_settings  # noqa: F401 (fixtures)
from tests.bot.harness import ADMIN, Bot, running_bot

U = 5001
UNSAFE = [2**53 + 1, 2**63, 10**30, MAX_AMOUNT + 1]


@pytest.mark.parametrize(
    "env",
    [
        {"image_cost": -1},
        {"image_cost": 2**53 + 1},
        {"image_cost": MAX_AMOUNT + 1},
        {"image_cost": "1.5"},
        {"free_credits": -3},
        {"referral_bonus": 10**30},
        {"video_costs": {10: -4, 15: 6, 20: 8}},
        {"video_costs": {10: 4, 15: 2**60, 20: 8}},
        {"packs": [{"id": "s", "credits": -10, "stars": 50}]},
        {"packs": [{"id": "s", "credits": 0, "stars": 50}]},
        {"packs": [{"id": "s", "credits": 2**53, "stars": 50}]},
    ],
)
def test_settings_refuse_unsafe_amounts_at_start_up(env: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BotSettings(telegram_bot_token="1:x", **env)


def test_settings_refuse_negative_costs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE_COST", "-1")
    with pytest.raises(ValidationError, match="image_cost"):
        BotSettings(telegram_bot_token="1:x")
    monkeypatch.setenv("IMAGE_COST", "1")
    monkeypatch.setenv("VIDEO_COSTS", '{"10": 4, "15": -6, "20": 8}')
    with pytest.raises(ValidationError, match="video_costs"):
        BotSettings(telegram_bot_token="1:x")


async def test_the_ledger_refuses_unsafe_amounts(ledger: Ledger) -> None:  # noqa: F811
    assert await ledger.register(U, 3)
    for bad in [*UNSAFE, -1, True, 1.5, "5"]:
        with pytest.raises(InvalidAmount):
            await ledger.reserve(U, f"job-{bad!r}", bad, deadline_s=60, max_active=10)  # type: ignore[arg-type]
        with pytest.raises(InvalidAmount):  # a grant may be negative (a deduction), down to -MAX_AMOUNT
            await ledger.grant(U, -MAX_AMOUNT - 1 if bad == -1 else bad, admin=1)  # type: ignore[arg-type]
        with pytest.raises(InvalidAmount):
            await ledger.credit_payment(f"charge-{bad!r}", U, bad, 50, "s")  # type: ignore[arg-type]
        with pytest.raises(InvalidAmount):
            await ledger.referral(U, U + 1, bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidAmount):
            await ledger.register(U + 2, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        await ledger.grant(U, 0, admin=1)
    assert await ledger.balance(U) == 3
    assert [e.reason for e in await ledger.history()] == ["welcome"]
    assert (await ledger.grant(U, MAX_AMOUNT, admin=1)).ok  # the limit itself is fine


BAD_ARGS = ["9007199254740993", "99999999999", "1000000001", "1e3", "1.5", "0x10", " 5", "", "inf", "nan", "-"]


async def _script(redis: Redis, name: str, keys: list[str], args: list[Any]) -> list[str]:  # noqa: F811
    raw = await redis.eval((LUA_DIR / f"{name}.lua").read_text(), len(keys), *keys, *args)
    return [item.decode() if isinstance(item, bytes) else str(item) for item in raw]


@pytest.mark.parametrize("bad", BAD_ARGS)
async def test_the_lua_scripts_refuse_unsafe_amounts_themselves(ledger: Ledger, redis: Redis, bad: str) -> None:  # noqa: F811
    """Called directly, past the Python checks: each money script answers invalid_amount and writes nothing."""
    k = ledger.keys
    assert await ledger.register(U, 3)
    before = await redis.xlen(k.ledger)
    calls = {
        "register": ([k.user(U + 1), k.users, k.ledger, k.uledger(U + 1), k.stats], [U + 1, 1, bad, "en", 50]),
        "reserve": (
            [k.user(U), k.lock(U), k.active, k.job("j"), k.ledger, k.uledger(U), k.stats],
            [U, "j", bad, 1, 2, 10, 1000, 50],
        ),
        "credit_payment": ([k.paid("c"), k.user(U), k.ledger, k.uledger(U), k.stats], ["c", U, bad, 50, 1, "s", 50]),
        "referral": (
            [k.referred(U + 3), k.user(U), k.user(U + 3), k.ledger, k.uledger(U), k.stats],
            [U, U + 3, bad, 1, 50],
        ),
        "grant": ([k.user(U), k.ledger, k.uledger(U), k.stats], [U, bad, 1, ADMIN, 50]),
    }
    for name, (keys, args) in calls.items():
        assert (await _script(redis, name, keys, args))[0] == "invalid_amount", name
    assert await ledger.balance(U) == 3
    assert await redis.xlen(k.ledger) == before
    assert not await redis.exists(k.job("j"), k.paid("c"), k.referred(U + 3), k.user(U + 1))


async def test_a_grant_never_lifts_a_balance_past_the_cap(ledger: Ledger, redis: Redis) -> None:  # noqa: F811
    assert await ledger.register(U, 0)
    await redis.hset(ledger.keys.user(U), "bal", MAX_BALANCE - 5)
    refused = await ledger.grant(U, 10, admin=1)
    assert refused.status == "balance_limit" and refused.balance == MAX_BALANCE - 5
    assert (await ledger.grant(U, 5, admin=1)).balance == MAX_BALANCE


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:  # noqa: F811
    async with running_bot(redis, runpod_settings) as b:
        yield b


MALFORMED_GRANTS = [
    ("/grant", "Usage"),
    (f"/grant {U}", "Usage"),
    (f"/grant {U} 5 extra", "Usage"),
    (f"/grant {U} 99999999999999999999", "not a whole number"),
    (f"/grant {U} 9007199254740993", "not a whole number"),
    (f"/grant {U} 1000000001", "out of range"),
    (f"/grant {U} -1000000001", "out of range"),
    (f"/grant {U} 0", "out of range"),
    (f"/grant {U} 1.5", "not a whole number"),
    (f"/grant {U} 1e3", "not a whole number"),
    (f"/grant {U} ５", "not a whole number"),  # noqa: RUF001 (a full-width digit on purpose)
    (f"/grant {U} \u00b2", "not a whole number"),  # "²".isdigit() is True, int("²") fails
    ("/grant \u0661\u0662 5", "not a user id"),  # Arabic-Indic digits
    ("/grant -5 5", "not a user id"),
    ("/grant 9999999999999999999999 5", "not a user id"),
]


@pytest.mark.parametrize(("command", "reply"), MALFORMED_GRANTS)
async def test_malformed_grants_get_a_clear_reply(bot: Bot, command: str, reply: str) -> None:
    await bot.users.send(U, "/start")
    await bot.users.send(ADMIN, command)
    assert reply in bot.telegram.last_text(ADMIN), bot.telegram.last_text(ADMIN)
    assert await bot.ledger.balance(U) == 3
    await bot.users.send(ADMIN, f"/grant {U} 2")
    assert bot.telegram.last_text(ADMIN) == f"User {U}: balance 5."
