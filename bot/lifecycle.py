"""Drives every paid request to a settled state on a Redis job queue (arq), shared by any number of bot processes.

Each step of a generation (bot/steps.py: submit, watch, deliver) is one arq job whose id is derived from the
generation and its attempt (bot/keys.py ``Keys.step``), so enqueueing a step twice runs it once, and whichever
bot process is free runs it. While a process runs a step, arq holds ``arq:in-progress:{step}``; when the process
dies that key expires (STEP_TIMEOUT_S + 2 s) and another process takes the step over. On SIGTERM the bot stops
picking steps, lets running ones finish for STOP_GRACE_S, then cancels the rest, which arq puts back in the queue.

arq's defaults we change, and why: ``keep_result=0`` (a step's result is never read; a kept result would block
re-enqueueing the same step id), ``max_tries`` unbounded (a job's own deadline bounds it), no signal handlers (PTB
owns SIGTERM; post_stop calls :meth:`Lifecycle.stop`), and the in-progress TTL shortened to the step timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import structlog
from arq import Retry, Worker, cron
from arq.connections import ArqRedis
from arq.worker import Function, func
from pydantic import ValidationError
from redis.asyncio import Redis

from bot.jobs import JobRecord
from bot.keys import Keys, Step
from bot.ledger import Ledger, now_ms
from bot.runpod_client import JobStatus, RunPodClient, RunPodError
from bot.settings import BotSettings
from bot.stages import Stage, check
from bot.steps import InputBuilder, Notifier, Steps
from workflows.contract import ErrorInfo, JobOutput

log = logging.getLogger("bot.lifecycle")

UNBOUNDED_TRIES = 10**9


async def _step(ctx: dict[str, Any], step: Step, job_id: str, *args: int) -> None:
    """Run one step under its time limit. A failure that is not the job's (Redis restarting, a bug, the time
    limit) runs the step again later: the steps are idempotent, and the job's deadline ends the tries."""
    lc: Lifecycle = ctx["lifecycle"]
    tries = int(ctx.get("job_try", 1))
    # Every log line of this step carries the job id (workflows/logging_setup.py reads structlog's context);
    # arq runs each step in its own task, so the binding ends with the step.
    structlog.contextvars.bind_contextvars(job_id=job_id)
    try:
        async with asyncio.timeout(lc.settings.step_timeout_s):
            if step is Step.SUBMIT:
                await lc.steps.submit(job_id, args[0])
            elif step is Step.WATCH:
                await lc.steps.watch(job_id, args[0], tries)
            else:
                await lc.steps.deliver(job_id, tries)
    except Retry:
        raise
    except Exception as exc:
        log.warning("step %s failed (%s); again later", step.value, exc, extra={"job_id": job_id, "try": tries})
        raise Retry(defer=lc.settings.poll_max_s) from exc


async def submit(ctx: dict[str, Any], job_id: str, attempt: int) -> None:
    await _step(ctx, Step.SUBMIT, job_id, attempt)


async def watch(ctx: dict[str, Any], job_id: str, attempt: int) -> None:
    await _step(ctx, Step.WATCH, job_id, attempt)


async def deliver(ctx: dict[str, Any], job_id: str) -> None:
    await _step(ctx, Step.DELIVER, job_id)


async def sweep(ctx: dict[str, Any]) -> None:
    lc: Lifecycle = ctx["lifecycle"]
    await lc.sweep()


class Lifecycle:
    def __init__(
        self,
        ledger: Ledger,
        endpoint: RunPodClient,
        notifier: Notifier,
        build_input: InputBuilder,
        settings: BotSettings,
        name: str = "bot",
    ) -> None:
        self.ledger = ledger
        self.endpoint = endpoint
        self.notifier = notifier
        self.build_input = build_input
        self.settings = settings
        self.name = name
        self.steps = Steps(self)
        self.queue = ArqRedis(connection_pool=ledger.redis.connection_pool, default_queue_name=self.keys.queue)
        self._worker: Worker | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def redis(self) -> Redis:
        return self.ledger.redis

    @property
    def keys(self) -> Keys:
        return self.ledger.keys

    # Running the queue here --------------------------------------------------------------------------------

    def _functions(self) -> list[Function]:
        limit = self.settings.step_timeout_s + 5  # above the step's own limit: arq's would drop the step
        p = self.keys.p
        return [
            func(coro, name=f"{p}{coro.__name__}", timeout=limit, max_tries=UNBOUNDED_TRIES)
            for coro in (submit, watch, deliver)
        ]

    async def start(self) -> None:
        """Run steps in this process (alongside every other bot process on the same Redis)."""
        s = self.settings
        every = max(1, int(s.sweep_interval_s))
        arq_log = logging.getLogger("arq")
        if arq_log.level == logging.NOTSET:  # arq logs every step at INFO: thousands of lines per minute under load
            arq_log.setLevel(logging.WARNING)
        worker = Worker(
            self._functions(),
            queue_name=self.keys.queue,
            redis_pool=self.queue,
            cron_jobs=[cron(sweep, name=f"{self.keys.p}sweep", second=set(range(0, 60, every)), run_at_startup=True)],
            handle_signals=False,
            max_jobs=s.queue_max_steps,
            job_timeout=s.step_timeout_s + 5,
            keep_result=0,
            poll_delay=s.queue_poll_s,
            max_tries=UNBOUNDED_TRIES,
            ctx={"lifecycle": self},
            log_results=False,
        )
        # A dead process's step is taken over once its in-progress key expires: keep that short.
        worker.in_progress_timeout_s = s.step_timeout_s + 2
        self._worker, self._stopping = worker, False
        self._runner = asyncio.create_task(self._run(worker), name=f"queue-{self.name}")

    async def _run(self, worker: Worker) -> None:
        """arq's loop, restarted when Redis drops (a restart, a failover) instead of ending the process's work."""
        while not self._stopping:
            try:
                await worker.main()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # (redis-py can turn a cancellation mid-command into a ConnectionError)
                if self._stopping:
                    return
                log.warning("job queue loop failed (%s); restarting", exc)
                await asyncio.sleep(max(0.5, self.settings.queue_poll_s * 4))  # no hot loop while Redis is down

    async def stop(self, grace_s: float | None = None) -> None:
        """Take no new step; give running ones STOP_GRACE_S (or ``grace_s``), then hand the rest back to the queue
        (cancelled, arq re-queues them for another process or the next start). Nothing is settled by the stop."""
        worker, runner = self._worker, self._runner
        if worker is None or runner is None:
            return
        worker.allow_pick_jobs, self._stopping = False, True
        running = [t for t in worker.tasks.values() if not t.done()]
        grace = self.settings.stop_grace_s if grace_s is None else grace_s
        if running and grace > 0:
            await asyncio.wait(running, timeout=grace)
        tasks = [t for t in worker.tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # redis-py may swallow a cancellation that lands mid-command, and arq's loop then goes on: insist.
        while not runner.done():
            runner.cancel()
            await asyncio.wait([runner], timeout=0.1)
        self._worker = self._runner = None
        log.info("job queue stopped", extra={"fields": {"handed_back": len(tasks)}})

    @property
    def running_steps(self) -> list[str]:
        """Ids of the steps running in this process now."""
        return [] if self._worker is None else [k for k, t in self._worker.tasks.items() if not t.done()]

    async def wait_idle(self) -> None:
        """Wait until no step runs in this process (tests)."""
        while self._worker is not None and (running := [t for t in self._worker.tasks.values() if not t.done()]):
            await asyncio.wait(running)

    # What handlers and the webhook call ---------------------------------------------------------------------

    async def start_job(self, job_id: str) -> None:
        """A job was reserved: queue its first step."""
        job = await self.load(job_id)
        if job is not None and job.is_open:
            await self.enqueue_next(job)

    async def request_cancel(self, job_id: str, reason: str = "") -> bool:
        """Mark an open job cancelled (by its user, or for ``reason``, an error code); its next step cancels it on
        RunPod and refunds. False when it is already settled (or delivering: its result exists and is sent)."""
        job = await self.load(job_id)
        if job is None or not job.is_open or job.stage is Stage.DELIVERING:
            return False
        if not await self.ledger.update_job(job_id, cancel="1", cancel_reason=reason):
            return False
        await self.wake(job)
        return True

    async def cancel_user_jobs(self, uid: int, reason: str) -> list[str]:
        """Cancel and refund every open job of a user (who blocked the bot, was banned, ...); the ids cancelled."""
        job_id = await self.ledger.user_lock(uid)  # a user has at most one open job
        return [job_id] if job_id is not None and await self.request_cancel(job_id, reason) else []

    async def on_webhook(self, job_id: str, body: Any) -> None:
        """RunPod's webhook for our job ``job_id`` (from its URL): look at the job now. It also names the RunPod job,
        which resolves a submit whose answer was lost; a RunPod job we do not track is an orphan and is cancelled."""
        try:
            status = JobStatus.model_validate(body)
        except ValidationError:
            status = None
        job = await self.load(job_id)
        if job is not None and job.is_open and (status is None or status.id == job.runpod_id):
            await self.wake(job)
            return
        if status is None:
            return
        if job is not None and job.is_open and job.stage is Stage.SUBMITTING:
            if await self.steps.accepted(job, status.id):
                return
            job = await self.load(job_id)
        if job is not None and status.id == job.runpod_id:
            return  # our settled job's own late webhook
        await self._cancel_orphan(job_id, status)

    async def _cancel_orphan(self, job_id: str, status: JobStatus) -> None:
        log.warning("orphan RunPod job", extra={"job_id": job_id, "runpod_id": status.id, "status": status.status})
        await self.redis.hincrby(self.keys.stats, "orphans_seen", 1)
        if status.is_terminal:
            return  # it already ran: nothing left to stop
        with contextlib.suppress(RunPodError):
            await self.endpoint.cancel(status.id)
            await self.redis.hincrby(self.keys.stats, "orphans_cancelled", 1)

    async def wake(self, job: JobRecord) -> None:
        """Run the job's waiting step now instead of at its next poll (a webhook, a cancel)."""
        now = now_ms()
        for step in (Step.SUBMIT, Step.WATCH):
            await self.redis.zadd(self.keys.queue, {self.keys.step(job.id, step, job.attempts): now}, xx=True)

    async def sweep(self) -> None:
        """Make sure every open job has its next step queued (ids are deterministic, so this never duplicates one);
        covers a crash between reserving and queueing, and queue writes lost in a Redis restart."""
        for job_id, _deadline in await self.ledger.open_jobs():
            job = await self.load(job_id)
            if job is not None and job.is_open:
                await self.enqueue_next(job)

    # Shared by the steps -----------------------------------------------------------------------------------

    async def enqueue_next(self, job: JobRecord, defer_s: float = 0) -> None:
        """Queue the step the job's stage calls for (a no-op when that step is already queued or running)."""
        p = self.keys.p
        args: tuple[str] | tuple[str, int]
        if job.stage in (Stage.RESERVED, Stage.SUBMITTING):
            step, args = Step.SUBMIT, (job.id, job.attempts)
        elif job.stage in (Stage.QUEUED, Stage.RUNNING):
            step, args = Step.WATCH, (job.id, job.attempts)
        elif job.stage is Stage.DELIVERING:
            step, args = Step.DELIVER, (job.id,)
        else:
            return
        step_id = self.keys.step(job.id, step, job.attempts if step is not Step.DELIVER else 0)
        await self.queue.enqueue_job(f"{p}{step.value}", *args, _job_id=step_id, _defer_by=defer_s or None)

    async def load(self, job_id: str) -> JobRecord | None:
        raw = await self.ledger.job(job_id)
        return JobRecord.from_hash(raw) if raw else None

    async def advance(self, job: JobRecord, target: Stage, **fields: str | int) -> bool:
        """The one place a stage changes: checked against the table, then compare-and-set in Redis."""
        check(job.stage, target)
        return await self.ledger.set_stage(job.id, job.stage.value, target.value, **fields)

    async def settle(self, job: JobRecord, *, charged: bool, error: ErrorInfo | None) -> None:
        """Charge or refund exactly once (the ledger's finalize); only the call that settled tells the user."""
        code = "" if error is None else str(error.details.get("bot_code", error.code.value))
        outcome = await self.ledger.finalize(job.id, charged=charged, code=code)
        if not outcome.ok:
            return
        log.info("settled", extra={"job_id": job.id, "charged": charged, "code": code})
        try:
            await self.notifier.settled(job, charged=charged, error=error)
        except Exception:
            log.exception("could not tell the user", extra={"job_id": job.id})

    async def stored_output(self, job_id: str) -> JobOutput | None:
        """A finished job's output, kept for a day after it completed."""
        raw = await self.redis.get(self.keys.result(job_id))
        return JobOutput.model_validate_json(raw) if raw else None

    async def position(self, job_id: str, *, queued: bool) -> int:
        """Queue position among this bot's jobs waiting on the endpoint (1-based); 0 once running."""
        if not queued:
            await self.redis.zrem(self.keys.queued, job_id)
            return 0
        await self.redis.zadd(self.keys.queued, {job_id: now_ms()}, nx=True)
        rank = await self.redis.zrank(self.keys.queued, job_id)
        return rank + 1 if isinstance(rank, int) else 1
