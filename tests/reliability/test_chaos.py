"""Credit conservation under chaos: many users, failing workers, timeouts, cancels, duplicate taps and payments,
bot processes killed and replaced, and Redis (AOF, everysec) restarted mid-run.

Everything runs for real except RunPod's cloud (tests/bot/fake_runpod.py over HTTP) and Telegram's servers
(tests/bot/fake_telegram.py at PTB's request layer). RELIABILITY_SCALE sets the number of users (CI: 120).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.ledger import Ledger, to_str
from bot.runpod_client import RunPodSettings
from bot.settings import BotSettings
from tests.bot.fake_runpod import HOLD, FakeRunPod, Step, completed_image, failed, queued, running, serve_fake_runpod
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.waiting import eventually
from tests.reliability import fleet, secrets
from tests.reliability.redis_process import RedisProcess
from workflows.contract import ErrorCode

SCALE = int(os.environ.get("RELIABILITY_SCALE", "120"))
SEED = int(os.environ.get("RELIABILITY_SEED", "20261129"))
INSTANCES = 3
PREFIX = "rel:"
FREE = 3
PACK = ("s", 10, 50)  # id, credits, stars: the default small pack

pytestmark = pytest.mark.slow


def chaos_settings() -> BotSettings:
    return BotSettings(
        telegram_bot_token=secrets.TELEGRAM_TOKEN,
        redis_prefix=PREFIX,
        free_credits=FREE,
        image_cost=1,
        max_active_jobs=100_000,
        image_deadline_s=4,
        max_retries=1,
        poll_min_s=0.05,
        poll_max_s=0.3,
        poll_webhook_s=1,
        lease_s=1.5,
        reaper_interval_s=0.2,
        status_edit_interval_s=0.5,
    )


def chaos_script(rng: random.Random) -> Any:
    """What each submitted job does on the 'GPU': mostly finish, sometimes fail (retryable or not) or hang."""

    def script(_input: dict[str, Any]) -> list[Step]:
        roll = rng.random()
        if roll < 0.55:
            return [queued(), running(30.0), completed_image()]
        if roll < 0.67:
            return [queued(), failed(ErrorCode.OUT_OF_MEMORY)]  # retryable: resubmitted once
        if roll < 0.77:
            return [running(10.0), failed(ErrorCode.NODE_FAILED)]
        if roll < 0.82:
            return [{"status": "COMPLETED", "output": {"outputs": [], "timings": {}}}]  # nothing to deliver
        return [queued(), HOLD]  # hangs until the user cancels or the deadline passes

    return script


@dataclass
class Chaos:
    rng: random.Random
    fake: FakeRunPod
    telegram: FakeTelegram
    redis_proc: RedisProcess
    settings: BotSettings
    runpod: RunPodSettings
    instances: list[fleet.BotInstance] = field(default_factory=list)
    quiet: asyncio.Lock = field(default_factory=asyncio.Lock)  # held by payments and by kills/restarts
    charges: dict[str, int] = field(default_factory=dict)  # charge id -> credits, credited as Telegram confirmed
    events: Counter[str] = field(default_factory=Counter)
    spawned: int = 0

    def alive(self) -> fleet.BotInstance:
        return self.rng.choice([i for i in self.instances if i.alive])

    async def spawn(self) -> None:
        self.spawned += 1
        inst = fleet.BotInstance(f"bot-{self.spawned}", self.settings, self.redis_proc.url, self.runpod, self.telegram)
        await inst.start()
        self.instances.append(inst)

    async def send(self, update: dict[str, Any]) -> None:
        """Deliver an update to any live instance (as behind a load balancer); failures are the bot's to log."""
        with contextlib.suppress(Exception):
            await self.alive().feed(update)

    # One user -----------------------------------------------------------------------------------------------

    async def user(self, uid: int) -> None:
        await self.send(fleet.command(uid, "/start"))
        for _ in range(self.rng.randint(2, 4)):
            roll = self.rng.random()
            if roll < 0.2:
                await self.pay(uid)
            else:
                await self.imagine(uid)
            await asyncio.sleep(self.rng.uniform(0, 0.5))

    async def pay(self, uid: int) -> None:
        pack, credits, stars = PACK
        charge = f"ch-{uid}-{self.rng.getrandbits(32):08x}"
        payload = f"pack:{pack}:{credits}:{stars}:{uid}"
        async with self.quiet:  # Telegram resends until a 200: model that by delivering while nothing crashes
            await self.send(fleet.paid(uid, payload, stars, charge))
        self.charges[charge] = credits
        for _ in range(self.rng.choice([0, 1, 2])):  # Telegram delivering the same payment again, any time
            self.events["duplicate_payment"] += 1
            await asyncio.sleep(self.rng.uniform(0, 0.3))
            await self.send(fleet.paid(uid, payload, stars, charge))

    async def imagine(self, uid: int) -> None:
        await self.send(fleet.command(uid, f"/imagine chaos {uid} ✨ {self.rng.random():.3f}"))
        data = self.draft_button(uid)
        if data is None:
            return
        taps = self.rng.choice([1, 1, 1, 2, 3])  # impatient users press twice, on different instances
        self.events["duplicate_tap"] += taps - 1
        await asyncio.gather(*(self.send(fleet.tap(uid, data)) for _ in range(taps)))
        job_id = data.split(":")[1]
        roll = self.rng.random()
        if roll < 0.15:
            await asyncio.sleep(self.rng.uniform(0, 1.0))
            self.events["cancel"] += 1
            await self.send(fleet.command(uid, "/cancel"))
        elif roll < 0.25:
            await asyncio.sleep(self.rng.uniform(0, 1.0))
            self.events["cancel_button"] += 1
            for _ in range(2):
                await self.send(fleet.tap(uid, f"cancel:{job_id}"))

    def draft_button(self, uid: int) -> str | None:
        for call in reversed(self.telegram.sent("sendMessage", chat_id=uid)):
            for _, data in self.telegram.buttons(call):
                if data.startswith("ar:"):
                    return data
        return None

    # The chaos monkey --------------------------------------------------------------------------------------

    async def monkey(self, done: asyncio.Event) -> None:
        # Every kind of fault in turn (each happens even in a short run), at random moments.
        actions = itertools.cycle([self.kill_one, self.flaky_cloud, self.restart_redis, self.stop_one])
        while not done.is_set():
            await asyncio.sleep(self.rng.uniform(0.5, 1.5))
            await next(actions)()

    async def kill_one(self) -> None:
        async with self.quiet:
            victim = self.alive()
            await victim.kill()
            self.events["bot_killed"] += 1
            await self.spawn()

    async def stop_one(self) -> None:
        async with self.quiet:
            victim = self.alive()
            await victim.stop()
            self.events["bot_stopped"] += 1
            await self.spawn()

    async def restart_redis(self) -> None:
        async with self.quiet:
            await asyncio.to_thread(self.redis_proc.restart)
            self.events["redis_restart"] += 1

    async def flaky_cloud(self) -> None:
        self.fake.fail_runs += 2  # /run answers 500 twice
        self.telegram.fail("sendPhoto", 400, "Bad Request: wrong file identifier/HTTP URL specified")
        forgotten = [j for j in self.fake.jobs.values() if j.current.get("status") in ("IN_QUEUE", "IN_PROGRESS")]
        if forgotten:  # RunPod purging a job: /status answers 404
            self.fake.jobs.pop(self.rng.choice(forgotten).id)
        self.events["flaky_cloud"] += 1


async def test_credits_are_conserved_under_chaos(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    redis_proc = RedisProcess(tmp_path)
    redis_proc.start()
    fake = FakeRunPod(api_key=secrets.RUNPOD_API_KEY)
    fake.script = chaos_script(rng)
    try:
        async with serve_fake_runpod(fake):
            runpod = RunPodSettings(
                base_url=fake.base_url,
                endpoint_id=fake.endpoint_id,
                api_key=secrets.RUNPOD_API_KEY,
                backoff_base_s=0.01,
                max_attempts=2,
            )
            chaos = Chaos(rng, fake, FakeTelegram(), redis_proc, chaos_settings(), runpod)
            await run_chaos(chaos)
            await check_invariants(chaos)
    finally:
        redis_proc.stop()


async def run_chaos(chaos: Chaos) -> None:
    for _ in range(INSTANCES):
        await chaos.spawn()
    done = asyncio.Event()
    monkey = asyncio.create_task(chaos.monkey(done))
    sem = asyncio.Semaphore(60)  # users active at once

    async def one(uid: int) -> None:
        async with sem:
            await chaos.user(uid)

    await asyncio.gather(*(one(10_000 + i) for i in range(SCALE)))
    done.set()
    await monkey
    observer = Redis.from_url(chaos.redis_proc.url)
    ledger = Ledger(observer, PREFIX)

    async def none_open() -> bool:
        return not await ledger.open_jobs()

    await eventually(none_open, timeout_s=60)
    for inst in [i for i in chaos.instances if i.alive]:
        await inst.services.tracker.wait_idle()
        await inst.stop()
    await observer.aclose()


async def scan(redis: Redis, pattern: str) -> list[str]:
    return [to_str(k) async for k in redis.scan_iter(match=pattern, count=1000)]


async def check_invariants(chaos: Chaos) -> None:
    redis = Redis.from_url(chaos.redis_proc.url)
    ledger = Ledger(redis, PREFIX)
    await asyncio.sleep(chaos.settings.lease_s + 0.5)  # leases of killed processes expire on their own
    try:
        assert not await scan(redis, f"{PREFIX}lock:*"), "a user lock is still held"
        assert not await ledger.open_jobs()
        # A process killed while delivering leaves its (longer) delivery lease on a settled job: it must expire.
        for key in await scan(redis, f"{PREFIX}lease:*"):
            job = await ledger.job(key.removeprefix(f"{PREFIX}lease:"))
            assert job is not None and job["state"] in ("charged", "refunded"), key
            assert 0 < await redis.pttl(key) <= chaos.settings.lease_s * 10 * 1000, key
            chaos.events["lease_left_by_a_killed_process"] += 1

        jobs = [await ledger.job(k.removeprefix(f"{PREFIX}job:")) for k in await scan(redis, f"{PREFIX}job:*")]
        states = Counter(j["state"] for j in jobs if j)
        assert set(states) <= {"charged", "refunded"}, states
        entries = await ledger.history(count=10**7)
        per_job = Counter((e.ref, e.reason) for e in entries if e.reason in ("job", "refund"))
        for job in filter(None, jobs):
            assert per_job[(job["id"], "job")] == 1, job
            refunded = job["state"] == "refunded" and int(job["cost"]) > 0
            assert per_job[(job["id"], "refund")] == (1 if refunded else 0), job

        stats = await ledger.stats()
        assert stats["jobs_reserved"] == len(jobs) == stats.get("jobs_charged", 0) + stats.get("jobs_refunded", 0)
        spent = sum(int(j["cost"]) for j in jobs if j and j["state"] == "charged")
        assert spent == stats.get("credits_spent", 0)

        uids = [int(to_str(u)) for u in await redis.zrange(ledger.keys.users, 0, -1)]
        balances = {uid: await ledger.balance(uid) for uid in uids}
        assert min(balances.values()) >= 0
        paid = {k.removeprefix(f"{PREFIX}paid:") for k in await scan(redis, f"{PREFIX}paid:*")}
        assert paid == set(chaos.charges), "a confirmed payment was lost or an unknown one credited"
        bought = sum(chaos.charges.values())
        assert sum(balances.values()) + spent == FREE * len(uids) + bought

        # Every balance change is in the ledger stream: replaying it gives each user's balance.
        replay = Counter[int]()
        for e in entries:
            replay[e.uid] += e.delta
        assert {uid: replay[uid] for uid in uids} == balances

        codes = Counter(j.get("code", "") for j in jobs if j)
        report(chaos, len(uids), states, codes, bought, spent)
        # The run really exercised what it claims to.
        assert len(uids) == SCALE and states["charged"] > 0 and states["refunded"] > 0
        assert chaos.redis_proc.restarts >= 1 and chaos.redis_proc.aof_files()
        assert codes["CANCELLED"] + codes["TIMEOUT"] > 0 and codes["NODE_FAILED"] > 0
        assert all(chaos.events[e] > 0 for e in ("bot_killed", "flaky_cloud", "duplicate_tap", "duplicate_payment"))
    finally:
        await redis.aclose()


def report(chaos: Chaos, users: int, states: Counter[str], codes: Counter[str], bought: int, spent: int) -> None:
    """One line for docs/reliability.md (visible with -s)."""
    print(
        f"\nchaos: users={users} jobs={sum(states.values())} states={dict(states)} codes={dict(codes)} "
        f"bought={bought} spent={spent} payments={len(chaos.charges)} events={dict(chaos.events)} "
        f"instances_started={chaos.spawned} redis_restarts={chaos.redis_proc.restarts}"
    )
