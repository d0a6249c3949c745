"""The credit ledger against a real redis-server: every transition atomic, exactly once, and on the record."""

from __future__ import annotations

import asyncio

from bot.ledger import JobState, Ledger


async def reserve(ledger: Ledger, uid: int, job_id: str, cost: int = 2, max_active: int = 10) -> str:
    out = await ledger.reserve(uid, job_id, cost, deadline_s=60, max_active=max_active, fields={"kind": "image"})
    return out.status


async def assert_ledger_consistent(ledger: Ledger, uid: int) -> None:
    """The balance equals the sum of the user's ledger lines, and each line records the balance after it."""
    running = 0
    for entry in [e for e in await ledger.history() if e.uid == uid]:
        running += entry.delta
        assert entry.balance == running
    assert await ledger.balance(uid) == running


async def test_new_user_gets_free_credits_once(ledger: Ledger) -> None:
    assert await ledger.register(1, free_credits=3, lang="en") is True
    assert await ledger.register(1, free_credits=3, lang="en") is False
    assert await ledger.balance(1) == 3
    [entry] = await ledger.recent(1)
    assert (entry.delta, entry.reason, entry.balance) == (3, "welcome", 3)


async def test_concurrent_registration_grants_once(ledger: Ledger) -> None:
    results = await asyncio.gather(*(ledger.register(7, free_credits=5) for _ in range(10)))
    assert results.count(True) == 1
    assert await ledger.balance(7) == 5


async def test_reserve_debits_and_records_the_job(ledger: Ledger) -> None:
    await ledger.register(1, free_credits=5)
    out = await ledger.reserve(1, "j1", 2, deadline_s=60, max_active=10, fields={"kind": "image", "chat": "1"})
    assert out.ok and out.balance == 3
    job = await ledger.job("j1")
    assert job is not None
    assert (job["state"], job["cost"], job["kind"], job["uid"]) == ("reserved", "2", "image", "1")
    assert await ledger.user_lock(1) == "j1"
    assert [j for j, _ in await ledger.open_jobs()] == ["j1"]
    await assert_ledger_consistent(ledger, 1)


async def test_double_tap_reserves_once(ledger: Ledger) -> None:
    await ledger.register(1, free_credits=5)
    results = await asyncio.gather(*(reserve(ledger, 1, "same") for _ in range(5)))
    assert sorted(results) == ["duplicate"] * 4 + ["ok"]
    assert await ledger.balance(1) == 3


async def test_refusals_leave_the_balance_alone(ledger: Ledger) -> None:
    assert await reserve(ledger, 9, "nouser") == "no_user"
    await ledger.register(1, free_credits=1)
    out = await ledger.reserve(1, "big", 2, deadline_s=60, max_active=10)
    assert (out.status, out.balance) == ("insufficient", 1)
    await ledger.set_user_field(1, "banned", "1")
    assert await reserve(ledger, 1, "b", cost=1) == "banned"
    await ledger.set_user_field(1, "banned", "0")
    assert await reserve(ledger, 1, "first", cost=1) == "ok"
    await ledger.register(2, free_credits=5)
    assert await ledger.balance(1) == 0
    assert await ledger.job("big") is None and await ledger.job("b") is None


async def test_one_open_job_per_user(ledger: Ledger) -> None:
    await ledger.register(1, free_credits=10)
    assert await reserve(ledger, 1, "a") == "ok"
    out = await ledger.reserve(1, "b", 2, deadline_s=60, max_active=10)
    assert (out.status, out.value) == ("locked", "a")
    await ledger.finalize("a", charged=True)
    assert await reserve(ledger, 1, "b") == "ok"


async def test_global_queue_limit(ledger: Ledger) -> None:
    for uid in (1, 2, 3):
        await ledger.register(uid, free_credits=10)
    assert await reserve(ledger, 1, "a", max_active=2) == "ok"
    assert await reserve(ledger, 2, "b", max_active=2) == "ok"
    assert await reserve(ledger, 3, "c", max_active=2) == "queue_full"
    assert await ledger.balance(3) == 10
    await ledger.finalize("a", charged=False)
    assert await reserve(ledger, 3, "c", max_active=2) == "ok"


async def test_refund_happens_exactly_once(ledger: Ledger) -> None:
    await ledger.register(1, free_credits=5)
    await reserve(ledger, 1, "j")
    results = await asyncio.gather(*(ledger.finalize("j", charged=False, code="INTERNAL") for _ in range(8)))
    assert [r.status for r in results].count("ok") == 1
    assert await ledger.balance(1) == 5
    job = await ledger.job("j")
    assert job is not None and job["state"] == JobState.REFUNDED and job["code"] == "INTERNAL"
    assert await ledger.user_lock(1) is None and await ledger.open_jobs() == []
    # A late "charged" cannot flip a refunded job either.
    assert (await ledger.finalize("j", charged=True)).status == "noop"
    assert await ledger.balance(1) == 5
    await assert_ledger_consistent(ledger, 1)
    stats = await ledger.stats()
    assert stats["credits_refunded"] == 2 and stats["jobs_refunded"] == 1


async def test_charge_keeps_the_debit(ledger: Ledger) -> None:
    await ledger.register(1, free_credits=5)
    await reserve(ledger, 1, "j")
    assert (await ledger.finalize("j", charged=True)).ok
    assert (await ledger.finalize("j", charged=False)).status == "noop"
    assert await ledger.balance(1) == 3
    assert (await ledger.stats())["credits_spent"] == 2


async def test_settled_jobs_are_never_revived(ledger: Ledger) -> None:
    await ledger.register(1, free_credits=5)
    await reserve(ledger, 1, "j")
    assert await ledger.update_job("j", state="running", runpod_id="rp-1")
    await ledger.finalize("j", charged=False)
    assert not await ledger.update_job("j", state="running")
    job = await ledger.job("j")
    assert job is not None and job["state"] == "refunded" and job["runpod_id"] == "rp-1"


async def test_payment_credited_once_per_charge(ledger: Ledger) -> None:
    await ledger.register(1, free_credits=0)
    results = await asyncio.gather(*(ledger.credit_payment("ch-1", 1, 50, 200, "m") for _ in range(4)))
    assert [r.status for r in results].count("ok") == 1
    assert (await ledger.credit_payment("ch-2", 1, 10, 50, "s")).ok
    assert await ledger.balance(1) == 60
    stats = await ledger.stats()
    assert stats["credits_sold"] == 60 and stats["stars_received"] == 250
    await assert_ledger_consistent(ledger, 1)


async def test_payment_refund_takes_credits_back_first(ledger: Ledger) -> None:
    await ledger.register(1, free_credits=0)
    await ledger.credit_payment("ch", 1, 10, 50, "s")
    assert (await ledger.refund_payment("ch", "begin")).ok
    assert await ledger.balance(1) == 0
    assert (await ledger.refund_payment("ch", "begin")).status == "refunding"
    assert (await ledger.refund_payment("ch", "abort")).ok  # Telegram refused: the credits come back
    assert await ledger.balance(1) == 10
    assert (await ledger.refund_payment("ch", "begin")).ok
    assert (await ledger.refund_payment("ch", "commit")).ok
    assert (await ledger.refund_payment("ch", "begin")).status == "refunded"
    assert await ledger.balance(1) == 0
    assert (await ledger.refund_payment("nope", "begin")).status == "unknown"
    await assert_ledger_consistent(ledger, 1)


async def test_payment_refund_refused_when_spent(ledger: Ledger) -> None:
    await ledger.register(1, free_credits=0)
    await ledger.credit_payment("ch", 1, 4, 20, "s")
    await reserve(ledger, 1, "j", cost=3)
    out = await ledger.refund_payment("ch", "begin")
    assert (out.status, out.balance) == ("spent", 1)
    assert await ledger.balance(1) == 1


async def test_referral_bonus_once_per_invitee(ledger: Ledger) -> None:
    await ledger.register(1, free_credits=0)
    await ledger.register(2, free_credits=0)
    assert (await ledger.referral(1, 2, bonus=3)).ok
    assert (await ledger.referral(1, 2, bonus=3)).status == "duplicate"
    assert (await ledger.referral(1, 1, bonus=3)).status == "self"
    assert (await ledger.referral(99, 3, bonus=3)).status == "no_inviter"
    assert await ledger.balance(1) == 3
    assert (await ledger.user(2))["referrer"] == "1"


async def test_admin_grant_and_deduction(ledger: Ledger) -> None:
    assert (await ledger.grant(5, 10, admin=42)).status == "no_user"
    await ledger.register(5, free_credits=1)
    assert (await ledger.grant(5, 10, admin=42)).balance == 11
    assert (await ledger.grant(5, -20, admin=42)).status == "insufficient"
    assert (await ledger.grant(5, -11, admin=42)).balance == 0
    [last, *_] = await ledger.recent(5)
    assert (last.reason, last.ref, last.delta) == ("grant", "42", -11)


async def test_lease_has_one_owner(ledger: Ledger) -> None:
    assert await ledger.lease("j", "bot-a", 30)
    assert not await ledger.lease("j", "bot-b", 30)
    assert await ledger.lease("j", "bot-a", 30, "renew")
    assert not await ledger.lease("j", "bot-b", 30, "release")
    assert await ledger.lease("j", "bot-a", 30, "release")
    assert await ledger.lease("j", "bot-b", 30)
