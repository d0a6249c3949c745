"""Credits in Redis: every money transition is one Lua script, and every change lands in an append-only stream.

The keys are listed in bot/keys.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from bot.keys import Keys

__all__ = ["JobState", "Keys", "Ledger", "LedgerEntry", "Outcome", "now_ms", "to_str"]

LUA_DIR = Path(__file__).parent / "lua"
ULEDGER_MAXLEN = 50
# Every amount (cost, credits, bonus, grant) is an integer within +-MAX_AMOUNT and a grant never lifts a balance
# past MAX_BALANCE: both far below 2^53, so Lua's doubles hold every value exactly. The scripts check it again.
MAX_AMOUNT = 1_000_000_000
MAX_BALANCE = 1_000_000_000_000


class InvalidAmount(ValueError):
    """An amount that is not an integer in the ledger's safe range."""


def check_amount(value: object, *, minimum: int = 0) -> int:
    """``value`` if it is an int (not a bool) in ``minimum..MAX_AMOUNT``; InvalidAmount otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_AMOUNT:
        raise InvalidAmount(f"amount {value!r} is not an integer between {minimum} and {MAX_AMOUNT}")
    return value


def now_ms() -> int:
    return int(time.time() * 1000)


def to_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class JobState(StrEnum):
    RESERVED = "reserved"
    RUNNING = "running"
    CHARGED = "charged"
    REFUNDED = "refunded"


OPEN_STATES = frozenset({JobState.RESERVED, JobState.RUNNING})


@dataclass(frozen=True)
class Outcome:
    """What a script answered: ``status`` is 'ok' or the reason it refused; ``value`` a balance or detail."""

    status: str
    value: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def balance(self) -> int:
        return int(self.value) if self.value.lstrip("-").isdigit() else 0


@dataclass(frozen=True)
class LedgerEntry:
    uid: int
    delta: int
    reason: str
    ref: str
    balance: int
    ts_ms: int


class Ledger:
    """Atomic credit operations over one Redis."""

    def __init__(self, redis: Redis, prefix: str = "cb:") -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self._scripts: dict[str, AsyncScript] = {
            path.stem: redis.register_script(path.read_text()) for path in LUA_DIR.glob("*.lua")
        }

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> list[str]:
        raw = await self._scripts[name](keys=keys, args=args)
        return [to_str(item) for item in raw] if isinstance(raw, list) else [to_str(raw)]

    # Users -------------------------------------------------------------------------------------------------

    async def register(self, uid: int, free_credits: int, lang: str = "") -> bool:
        """Create the user with the free balance once; True when the user is new."""
        check_amount(free_credits)
        k = self.keys
        res = await self._run(
            "register",
            [k.user(uid), k.users, k.ledger, k.uledger(uid), k.stats],
            [uid, now_ms(), free_credits, lang, ULEDGER_MAXLEN],
        )
        return res[0] == "new"

    async def balance(self, uid: int) -> int:
        return int(to_str(await self.redis.hget(self.keys.user(uid), "bal") or 0))

    async def user(self, uid: int) -> dict[str, str]:
        raw = await self.redis.hgetall(self.keys.user(uid))
        return {to_str(k): to_str(v) for k, v in raw.items()}

    async def set_user_field(self, uid: int, field: str, value: str) -> bool:
        """Set a non-money field of an existing user (language, ban flag)."""
        if not await self.redis.hexists(self.keys.user(uid), "created"):
            return False
        await self.redis.hset(self.keys.user(uid), field, value)
        return True

    async def is_banned(self, uid: int) -> bool:
        return to_str(await self.redis.hget(self.keys.user(uid), "banned") or "") == "1"

    async def recent(self, uid: int, count: int = 5) -> list[LedgerEntry]:
        rows: Any = await self.redis.xrevrange(self.keys.uledger(uid), count=count)
        return [self._entry(fields) for _, fields in rows]

    async def history(self, count: int = 1000) -> list[LedgerEntry]:
        """The global ledger, oldest first."""
        rows: Any = await self.redis.xrange(self.keys.ledger, count=count)
        return [self._entry(fields) for _, fields in rows]

    @staticmethod
    def _entry(fields: dict[Any, Any]) -> LedgerEntry:
        f = {to_str(k): to_str(v) for k, v in fields.items()}
        return LedgerEntry(int(f["uid"]), int(f["delta"]), f["reason"], f["ref"], int(f["bal"]), int(f["ts"]))

    # Jobs --------------------------------------------------------------------------------------------------

    async def reserve(
        self,
        uid: int,
        job_id: str,
        cost: int,
        *,
        deadline_s: float,
        max_active: int,
        fields: dict[str, str] | None = None,
    ) -> Outcome:
        """Debit ``cost`` and record the job. Refusals: duplicate, no_user, banned, locked (value: the open
        job), queue_full, insufficient (value: the balance)."""
        check_amount(cost)
        k = self.keys
        now = now_ms()
        deadline = now + int(deadline_s * 1000)
        # The lock outlives the deadline so that only finalize (or the reaper) releases it.
        lock_ttl = int(deadline_s * 1000) * 2 + 600_000
        flat: list[str] = [item for pair in (fields or {}).items() for item in pair]
        res = await self._run(
            "reserve",
            [k.user(uid), k.lock(uid), k.active, k.job(job_id), k.ledger, k.uledger(uid), k.stats],
            [uid, job_id, cost, now, deadline, max_active, lock_ttl, ULEDGER_MAXLEN, *flat],
        )
        return Outcome(res[0], res[1] if len(res) > 1 else "")

    async def finalize(self, job_id: str, *, charged: bool, code: str = "") -> Outcome:
        """Settle the job once. ``ok`` only for the call that settled it; later calls answer ``noop``."""
        job = await self.job(job_id)
        if job is None:
            return Outcome("noop", "missing")
        uid = int(job["uid"])
        k = self.keys
        res = await self._run(
            "finalize",
            [k.job(job_id), k.user(uid), k.lock(uid), k.active, k.ledger, k.uledger(uid), k.stats, k.queued],
            [job_id, "charged" if charged else "refunded", now_ms(), code, ULEDGER_MAXLEN],
        )
        return Outcome(res[0], res[2] if res[0] == "ok" else res[1])

    async def update_job(self, job_id: str, **fields: str | int) -> bool:
        """Write fields of an open job; False (and nothing written) once it is settled."""
        flat = [str(item) for pair in fields.items() for item in pair]
        res = await self._run("job_update", [self.keys.job(job_id)], flat)
        return res[0] == "1"

    async def set_stage(self, job_id: str, expected: str, stage: str, **fields: str | int) -> bool:
        """Move an open job from ``expected`` to ``stage`` (atomically, with fields); False if it was not there."""
        flat = [str(item) for pair in fields.items() for item in pair]
        res = await self._run("advance", [self.keys.job(job_id)], [expected, stage, *flat])
        return res[0] == "1"

    async def job(self, job_id: str) -> dict[str, str] | None:
        raw = await self.redis.hgetall(self.keys.job(job_id))
        return {to_str(k): to_str(v) for k, v in raw.items()} or None

    async def open_jobs(self) -> list[tuple[str, int]]:
        """Open job ids with their deadlines (ms)."""
        rows: Any = await self.redis.zrange(self.keys.active, 0, -1, withscores=True)
        return [(to_str(job_id), int(score)) for job_id, score in rows]

    async def user_lock(self, uid: int) -> str | None:
        value = await self.redis.get(self.keys.lock(uid))
        return to_str(value) if value else None

    # Leases ------------------------------------------------------------------------------------------------

    async def lease(self, job_id: str, owner: str, ttl_s: float, mode: str = "acquire") -> bool:
        res = await self._run("lease", [self.keys.lease(job_id)], [owner, int(ttl_s * 1000), mode])
        return res[0] == "1"

    # Payments, referrals, grants ---------------------------------------------------------------------------

    async def credit_payment(self, charge_id: str, uid: int, credits: int, stars: int, pack: str) -> Outcome:
        """Credit once per charge id; a repeated delivery answers ``duplicate``."""
        check_amount(credits, minimum=1)
        check_amount(stars)
        k = self.keys
        res = await self._run(
            "credit_payment",
            [k.paid(charge_id), k.user(uid), k.ledger, k.uledger(uid), k.stats],
            [charge_id, uid, credits, stars, now_ms(), pack, ULEDGER_MAXLEN],
        )
        return Outcome(res[0], res[1])

    async def payment(self, charge_id: str) -> dict[str, str] | None:
        raw = await self.redis.hgetall(self.keys.paid(charge_id))
        return {to_str(k): to_str(v) for k, v in raw.items()} or None

    async def refund_payment(self, charge_id: str, mode: str) -> Outcome:
        """'begin' takes the credits back (refuses with ``spent``), 'abort' returns them, 'commit' closes it."""
        return await self._on_payment("refund_payment", charge_id, mode, now_ms(), ULEDGER_MAXLEN)

    async def payment_refunded(self, charge_id: str) -> Outcome:
        """Telegram refunded this payment (however it happened): reflect it once; ``duplicate`` afterwards."""
        return await self._on_payment("payment_refunded", charge_id, now_ms(), ULEDGER_MAXLEN)

    async def _on_payment(self, script: str, charge_id: str, *args: Any) -> Outcome:
        """Run a payment script on the charge's payer's keys; ``unknown`` for a charge never credited."""
        pay = await self.payment(charge_id)
        if pay is None:
            return Outcome("unknown", "0")
        uid = int(pay["uid"])
        k = self.keys
        res = await self._run(
            script, [k.paid(charge_id), k.user(uid), k.ledger, k.uledger(uid), k.stats], [charge_id, *args]
        )
        return Outcome(res[0], res[1])

    async def referral(self, inviter: int, invitee: int, bonus: int) -> Outcome:
        check_amount(bonus)
        k = self.keys
        res = await self._run(
            "referral",
            [k.referred(invitee), k.user(inviter), k.user(invitee), k.ledger, k.uledger(inviter), k.stats],
            [inviter, invitee, bonus, now_ms(), ULEDGER_MAXLEN],
        )
        return Outcome(res[0], res[1])

    async def grant(self, uid: int, amount: int, admin: int) -> Outcome:
        """Add (or, negative, take) credits. Refusals: no_user, insufficient and balance_limit (value: the
        balance); InvalidAmount for zero or an amount out of range."""
        if check_amount(amount, minimum=-MAX_AMOUNT) == 0:
            raise InvalidAmount("a grant of 0 credits changes nothing")
        k = self.keys
        res = await self._run(
            "grant",
            [k.user(uid), k.ledger, k.uledger(uid), k.stats],
            [uid, amount, now_ms(), admin, ULEDGER_MAXLEN],
        )
        return Outcome(res[0], res[1])

    async def stats(self) -> dict[str, int]:
        raw = await self.redis.hgetall(self.keys.stats)
        return {to_str(k): int(to_str(v)) for k, v in raw.items()}

    async def user_count(self) -> int:
        return int(await self.redis.zcard(self.keys.users))
