"""Credit conservation under chaos: many users, failing workers, timeouts, cancels, duplicate taps and payments,
bot processes killed and replaced (at every step boundary: mid-submit after /run was sent and before its answer,
mid-upload after COMPLETED, after a payment update was acknowledged and before it was credited, ...), stopped in
PTB's real order, and Redis (AOF, everysec) restarted mid-run.

Everything runs for real except RunPod's cloud (tests/bot/fake_runpod.py over HTTP) and Telegram's servers
(tests/bot/fake_telegram.py at PTB's request layer). RELIABILITY_SCALE sets the number of users (CI: 120).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.ledger import Ledger, to_str
from bot.runpod_client import RunPodSettings
from bot.settings import BotSettings
from bot.stars import PackPayload
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
        step_timeout_s=1.5,  # a killed process's steps are taken over after 1.5 + 2 s
        stop_grace_s=0.2,
        queue_poll_s=0.05,
        sweep_interval_s=1,
        status_edit_interval_s=0.5,
        stars_reconcile_interval_s=1,  # the only way a payment whose update was lost gets credited
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
    charges: dict[str, int] = field(default_factory=dict)  # charge id -> credits, as Telegram recorded them paid
    crash_next_payment: int = 1  # armed at start and by the monkey: kill the process handling the next payment
    events: Counter[str] = field(default_factory=Counter)
    spawned: int = 0
    prompts: itertools.count[int] = field(default_factory=itertools.count)
    observer: Redis = field(default_factory=lambda: Redis())  # replaced in run_chaos
    takeovers: list[float] = field(default_factory=list)  # seconds from a kill until its steps ran elsewhere
    watchers: list[asyncio.Task[None]] = field(default_factory=list)

    def alive(self) -> fleet.BotInstance:
        return self.rng.choice([i for i in self.instances if i.alive])

    async def spawn(self) -> None:
        self.spawned += 1
        inst = fleet.BotInstance(f"bot-{self.spawned}", self.settings, self.redis_proc.url, self.runpod, self.telegram)
        await inst.start()
        self.instances.append(inst)

    async def send(self, update: dict[str, Any]) -> None:
        """Deliver an update to any live instance (as behind a load balancer); failures are the bot's to log.
        A process killed while handling it never answered Telegram's webhook call, so Telegram sends it again."""
        for _ in range(5):
            instance = self.alive()
            with contextlib.suppress(Exception):
                await instance.feed(update)
            if instance.alive:
                return
            self.events["update_redelivered"] += 1

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
        self.telegram.star_payment(uid, payload, stars, charge)  # Telegram took the Stars before sending the update
        self.charges[charge] = credits
        if self.crash_next_payment:
            self.crash_next_payment -= 1
            await self.kill_after_payment_ack(fleet.paid(uid, payload, stars, charge))
            return  # acknowledged: Telegram never sends it again; only reconciliation can credit it
        async with self.quiet:  # Telegram resends until a 200: model that by delivering while nothing crashes
            await self.send(fleet.paid(uid, payload, stars, charge))
        for _ in range(self.rng.choice([0, 1, 2])):  # Telegram delivering the same payment again, any time
            self.events["duplicate_payment"] += 1
            await asyncio.sleep(self.rng.uniform(0, 0.3))
            await self.send(fleet.paid(uid, payload, stars, charge))

    async def imagine(self, uid: int) -> None:
        # A prompt unique to this request: the fake RunPod tells requests apart by their input.
        await self.send(fleet.command(uid, f"/imagine chaos {uid} ✨ {self.rng.random():.3f} #{next(self.prompts)}"))
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
        actions = itertools.cycle(
            [
                self.kill_one,
                self.flaky_cloud,
                self.kill_mid_submit,
                self.arm_payment_crash,
                self.restart_redis,
                self.stop_one,
                self.kill_one,
            ]
        )
        while not done.is_set():
            await asyncio.sleep(self.rng.uniform(0.5, 1.5))
            await next(actions)()

    async def kill_one(self) -> None:
        async with self.quiet:
            victim = self.alive()
            steps = victim.services.lifecycle.running_steps  # mid-upload, mid-poll, mid-submit: whatever runs
            uploading = sum(":deliver:" in step for step in steps)
            retries = {step: await self.tries(step) for step in steps}
            await victim.kill()
            self.events["bot_killed"] += 1
            self.events["killed_mid_upload"] += uploading
            self.events["steps_orphaned_by_kills"] += len(steps)
            self.watchers.append(asyncio.create_task(self.time_takeover(retries, asyncio.get_running_loop().time())))
            await self.spawn()

    async def kill_mid_submit(self) -> None:
        """Kill a process while /run is on its way: RunPod has the job, the bot never hears its id."""
        self.fake.run_delay_s = 0.5
        try:
            for _ in range(100):  # up to 5 s for a user's submit to be on its way
                if any(":submit:" in s for i in self.instances if i.alive for s in i.services.lifecycle.running_steps):
                    break
                await asyncio.sleep(0.05)
            if any(":submit:" in s for i in self.instances if i.alive for s in i.services.lifecycle.running_steps):
                self.events["killed_mid_submit"] += 1
            await self.kill_one()
        finally:
            self.fake.run_delay_s = 0.0

    async def arm_payment_crash(self) -> None:
        self.crash_next_payment += 1

    async def kill_after_payment_ack(self, update: dict[str, Any]) -> None:
        """Telegram has its 200 for the payment update (webhook: answered first; polling: the next getUpdates
        confirmed it), then the process handling it dies before the credit reaches Redis."""
        async with self.quiet:
            victim = self.alive()
            handling = asyncio.create_task(victim.feed(update))  # starts only once kill() has cut Redis below
            await victim.kill()
            with contextlib.suppress(Exception):  # its handler fails against the cut Redis (bounded, whatever it does)
                await asyncio.wait_for(handling, 10)
            self.events["killed_after_payment_ack"] += 1
            await self.spawn()  # its reconciliation pass at start (or any live one's next pass) credits it

    async def tries(self, step: str) -> int:
        for _ in range(20):  # the observer's connection may be one Redis restart old
            with contextlib.suppress(RedisConnectionError):
                return int(await self.observer.get(f"arq:retry:{step}") or 0)
            await asyncio.sleep(0.1)
        return 0

    async def time_takeover(self, retries: dict[str, int], killed_at: float) -> None:
        """How long until each step the dead process held started again in another one (arq's retry counter
        moves when a step starts) or was finished by one (its queue entry is gone)."""
        loop = asyncio.get_running_loop()
        pending = dict(retries)
        while pending and loop.time() - killed_at < 30:
            for step, before in list(pending.items()):
                with contextlib.suppress(Exception):
                    gone = not await self.observer.exists(f"arq:job:{step}")
                    if gone or await self.tries(step) > before:
                        self.takeovers.append(loop.time() - killed_at)
                        del pending[step]
            await asyncio.sleep(0.05)

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
        self.fake.lose_run_answers += 1  # /run creates the job but its answer is lost (502)
        self.telegram.fail("sendPhoto", 400, "Bad Request: wrong file identifier/HTTP URL specified")
        forgotten = [j for j in self.fake.jobs.values() if j.current.get("status") in ("IN_QUEUE", "IN_PROGRESS")]
        if forgotten:  # RunPod purging a job: /status answers 404
            self.fake.forget(self.rng.choice(forgotten).id)
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
            telegram = FakeTelegram()
            telegram.upload_delay_s = 0.15  # an upload takes a while: kills and stops land mid-upload
            chaos = Chaos(rng, fake, telegram, redis_proc, chaos_settings(), runpod)
            chaos.observer = Redis.from_url(redis_proc.url)
            try:
                await run_chaos(chaos)
            finally:
                await chaos.observer.aclose()
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
    await asyncio.gather(*chaos.watchers)
    observer = Redis.from_url(chaos.redis_proc.url)
    ledger = Ledger(observer, PREFIX)

    async def none_open() -> bool:
        return not await ledger.open_jobs()

    await eventually(none_open, timeout_s=60)

    # The periodic reconciliation passes pick up the lost updates. Polled without wait_for: cancelling a Redis
    # call mid-flight can wedge its connection. Up to 30 s; check_invariants says which charge was not credited.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        credited = {k.removeprefix(f"{PREFIX}paid:") for k in await scan(observer, f"{PREFIX}paid:*")}
        if set(telegram_paid(chaos.telegram)) <= credited:
            break
        await asyncio.sleep(0.2)
    for inst in [i for i in chaos.instances if i.alive]:
        await inst.services.lifecycle.wait_idle()
        await inst.stop()
    await observer.aclose()


async def scan(redis: Redis, pattern: str) -> list[str]:
    return [to_str(k) async for k in redis.scan_iter(match=pattern, count=1000)]


async def check_invariants(chaos: Chaos) -> None:
    redis = Redis.from_url(chaos.redis_proc.url)
    ledger = Ledger(redis, PREFIX)
    try:
        assert not await scan(redis, f"{PREFIX}lock:*"), "a user lock is still held"
        assert not await ledger.open_jobs()

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
        # Every charge Telegram recorded as paid is credited exactly once (by charge id), and nothing else is.
        recorded = telegram_paid(chaos.telegram)
        assert recorded == chaos.charges
        paid = {k.removeprefix(f"{PREFIX}paid:") for k in await scan(redis, f"{PREFIX}paid:*")}
        assert not set(recorded) - paid, f"paid but never credited: {sorted(set(recorded) - paid)[:5]}"
        assert paid == set(recorded), "a payment Telegram never recorded was credited"
        credits = Counter(e.ref for e in entries if e.reason == "payment")
        assert credits == Counter(set(recorded)), "a charge was credited more than once"
        assert all(e.delta == recorded[e.ref] for e in entries if e.reason == "payment")
        bought = sum(recorded.values())
        assert sum(balances.values()) + spent == FREE * len(uids) + bought

        # Every balance change is in the ledger stream: replaying it gives each user's balance.
        replay = Counter[int]()
        for e in entries:
            replay[e.uid] += e.delta
        assert {uid: replay[uid] for uid in uids} == balances

        # No paid request ran twice on the 'GPU' (the fake counts /run per request input).
        assert not chaos.fake.duplicate_runs, chaos.fake.duplicate_runs[:3]
        # No finished result left undelivered: every job whose result was stored was delivered and charged.
        for job in filter(None, jobs):
            if await redis.exists(ledger.keys.result(job["id"])):
                assert job["state"] == "charged", job
                assert delivered(chaos.telegram, job), job
        codes = Counter(j.get("code", "") for j in jobs if j)
        report(chaos, len(uids), states, codes, bought, spent)
        # The run really exercised what it claims to.
        assert len(uids) == SCALE and states["charged"] > 0 and states["refunded"] > 0
        assert chaos.redis_proc.restarts >= 1 and chaos.redis_proc.aof_files()
        assert codes["CANCELLED"] + codes["TIMEOUT"] > 0 and codes["NODE_FAILED"] > 0
        exercised = ("bot_killed", "flaky_cloud", "duplicate_tap", "duplicate_payment", "killed_after_payment_ack")
        assert all(chaos.events[e] > 0 for e in exercised), chaos.events
        assert chaos.takeovers, "no kill caught a step in flight"
    finally:
        await redis.aclose()


def telegram_paid(telegram: FakeTelegram) -> dict[str, int]:
    """Telegram's own record (getStarTransactions): charge id -> the credits its invoice promised."""
    paid: dict[str, int] = {}
    for tx in telegram.star_transactions:
        if "source" in tx:
            pack = PackPayload.parse(tx["source"]["invoice_payload"])
            assert pack is not None, tx
            paid[tx["id"]] = pack.credits
    return paid


def delivered(telegram: FakeTelegram, job: dict[str, str]) -> bool:
    prompt = json.loads(job["request"]).get("prompt") or ""
    sent = telegram.sent("sendPhoto", "sendDocument", chat_id=int(job["chat_id"]))
    return any(prompt[:20] in str(call.get("caption") or "") for call in sent)


def report(chaos: Chaos, users: int, states: Counter[str], codes: Counter[str], bought: int, spent: int) -> None:
    """One line for docs/reliability.md (visible with -s)."""
    took = sorted(chaos.takeovers)
    if took:
        print(
            f"\ntake-over after a kill: steps={len(took)} p50={took[len(took) // 2]:.2f}s max={took[-1]:.2f}s "
            f"(step timeout {chaos.settings.step_timeout_s}s + 2s)"
        )
    print(
        f"\nchaos: users={users} jobs={sum(states.values())} states={dict(states)} codes={dict(codes)} "
        f"bought={bought} spent={spent} payments={len(chaos.charges)} events={dict(chaos.events)} "
        f"instances_started={chaos.spawned} redis_restarts={chaos.redis_proc.restarts}"
    )
