"""Drives every open job to a settled state: submit, watch, retry once, deliver, then charge or refund once.

Jobs live in Redis, not here: any bot process may pick up an open job whose lease is free (after a restart,
or when another process died), and a lease makes sure only one process handles a job at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.asyncio.client import PubSub

from bot.jobs import JobRecord
from bot.ledger import Ledger, now_ms, to_str
from bot.runpod_client import JobNotFound, JobStatus, Policy, RunPodClient
from bot.settings import BotSettings
from workflows.contract import USER_MESSAGES, ErrorCode, ErrorInfo, JobOutput, JobState

log = logging.getLogger("bot.tracker")

DELIVERY_FAILED = "DELIVERY_FAILED"
NO_OUTPUT = "NO_OUTPUT"
SUBMIT_ATTEMPTS = 3
RESULT_TTL_S = 24 * 3600


class Notifier(Protocol):
    """How the tracker talks to the user (the Telegram side implements it)."""

    async def progress(
        self,
        job: JobRecord,
        phase: str,
        *,
        position: int = 0,
        percent: float | None = None,
        preview: str | None = None,
    ) -> None: ...

    async def deliver(self, job: JobRecord, output: JobOutput) -> bool:
        """Send the result; True only when the user received it."""
        ...

    async def settled(self, job: JobRecord, *, charged: bool, error: ErrorInfo | None) -> None: ...


InputBuilder = Callable[[JobRecord], Awaitable[dict[str, Any]]]


def _error(code: str, message: str = "", retryable: bool = False) -> ErrorInfo:
    """An ErrorInfo for a failure the bot itself detects (codes outside ErrorCode map to INTERNAL)."""
    known = code in ErrorCode.__members__
    err_code = ErrorCode(code) if known else ErrorCode.INTERNAL
    return ErrorInfo(
        code=err_code,
        message=message or USER_MESSAGES[err_code],
        retryable=retryable,
        details={} if known else {"bot_code": code},
    )


async def stored_output(ledger: Ledger, job_id: str) -> JobOutput | None:
    """A finished job's output, kept for a day after it completed."""
    raw = await ledger.redis.get(ledger.keys.result(job_id))
    return JobOutput.model_validate_json(raw) if raw else None


def _output(status: JobStatus) -> JobOutput | None:
    try:
        return status.job_output()
    except ValueError:  # a foreign output (pydantic's ValidationError is a ValueError)
        return None


def _percent(status: JobStatus) -> float | None:
    """The worker's percent while running; None until it reports (or when the update is not one of ours)."""
    progress = status.progress()
    if progress is None or "percent" not in progress.model_fields_set:
        return None
    return max(0.0, min(100.0, progress.percent))


def _preview(status: JobStatus) -> str | None:
    """The worker's latest live preview (base64 JPEG) while it samples, when it sent one."""
    progress = status.progress()
    preview = (progress.model_extra or {}).get("preview") if progress is not None else None
    return getattr(progress, "preview", None) or (preview if isinstance(preview, str) else None)


class JobTracker:
    def __init__(
        self,
        ledger: Ledger,
        endpoint: RunPodClient,
        notifier: Notifier,
        build_input: InputBuilder,
        settings: BotSettings,
        owner: str | None = None,
    ) -> None:
        self.ledger = ledger
        self.endpoint = endpoint
        self.notifier = notifier
        self.build_input = build_input
        self.settings = settings
        self.owner = owner or f"bot-{uuid.uuid4().hex[:8]}"
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._stopping = False
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None
        self._channel = f"{ledger.keys.p}wake"

    # Entry points ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Pick up every open job (after a restart) and keep doing so periodically."""
        self._stopping = False
        self._pubsub = self.ledger.redis.pubsub()
        await self._pubsub.subscribe(self._channel)
        self._listener = asyncio.create_task(self._listen_forever(), name="job-wakeups")
        await self.reap()
        self._reaper = asyncio.create_task(self._reap_forever(), name="job-reaper")

    async def stop(self) -> None:
        """Stop tracking here; leases are released so another process (or the next start) takes over."""
        self._stopping = True
        helpers = [t for t in (self._reaper, self._listener) if t is not None and not t.done()]
        while tasks := list(self._tasks.values()) + helpers:
            helpers = []
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None

    async def track(self, job_id: str) -> bool:
        """Start tracking a job in this process if nobody else holds it; True when this process now does."""
        if job_id in self._tasks:
            return True
        if self._stopping:
            return False
        if not await self.ledger.lease(job_id, self.owner, self.settings.lease_s):
            return False
        self._wake[job_id] = asyncio.Event()
        self._tasks[job_id] = asyncio.create_task(self._run(job_id), name=f"job-{job_id}")
        return True

    def wake(self, job_id: str) -> None:
        """Look at the job now, if this process tracks it."""
        event = self._wake.get(job_id)
        if event is not None:
            event.set()

    async def signal(self, job_id: str) -> None:
        """Make whichever bot process tracks the job look at it now (RunPod's webhook arrived, a cancel)."""
        self.wake(job_id)
        await self.ledger.redis.publish(self._channel, job_id)

    async def request_cancel(self, job_id: str) -> bool:
        """Mark an open job cancelled by its user; the tracker holding it cancels and refunds."""
        ok = await self.ledger.update_job(job_id, cancel="1")
        if ok:
            await self.signal(job_id)
        return ok

    async def reap(self) -> None:
        """Take every open job nobody is tracking (this also finalises those past their deadline)."""
        for job_id, _deadline in await self.ledger.open_jobs():
            if job_id not in self._tasks:
                await self.track(job_id)

    async def wait_idle(self) -> None:
        """Wait until every job tracked here is settled (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    @property
    def tracking(self) -> set[str]:
        return set(self._tasks)

    async def _listen_forever(self) -> None:
        """Wake-ups published by other processes (a webhook or /cancel they received for a job tracked here)."""
        assert self._pubsub is not None
        while not self._stopping:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except Exception:
                log.exception("wake-up channel failed")
                await asyncio.sleep(self.settings.reaper_interval_s)
                continue
            if message is not None and message.get("type") == "message":
                self.wake(to_str(message["data"]))

    async def _reap_forever(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.reaper_interval_s)
            try:
                await self.reap()
            except Exception:
                log.exception("reaper pass failed")

    # The loop of one job -------------------------------------------------------------------------------

    async def _load(self, job_id: str) -> JobRecord | None:
        raw = await self.ledger.job(job_id)
        return JobRecord.from_hash(raw) if raw else None

    async def _run(self, job_id: str) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(job_id, asyncio.current_task()), name=f"lease-{job_id}")
        try:
            await self._loop(job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("tracking failed", extra={"job_id": job_id})
        finally:
            heartbeat.cancel()
            self._tasks.pop(job_id, None)
            self._wake.pop(job_id, None)
            with contextlib.suppress(Exception):
                await self.ledger.lease(job_id, self.owner, self.settings.lease_s, "release")

    async def _heartbeat(self, job_id: str, tracking: asyncio.Task[Any] | None) -> None:
        """Keep the lease while any step runs (a slow submit or upload must not let another process in);
        if it was lost anyway, stop tracking here."""
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            try:
                held = await self.ledger.lease(job_id, self.owner, self.settings.lease_s, "renew")
            except Exception:
                log.warning("lease renewal failed", extra={"job_id": job_id})
                continue
            if not held and tracking is not None:
                log.warning("lost the lease", extra={"job_id": job_id})
                tracking.cancel()
                return

    async def _loop(self, job_id: str) -> None:
        interval = self.settings.poll_min_s
        while not self._stopping:
            job = await self._load(job_id)
            if job is None or not job.is_open:
                return
            if job.cancel:
                await self._stop_remote(job)
                await self._settle(job, charged=False, error=_error(ErrorCode.CANCELLED))
                return
            if now_ms() >= job.deadline:
                await self._stop_remote(job)
                await self._settle(job, charged=False, error=_error(ErrorCode.TIMEOUT))
                return
            if job.phase == "delivering":
                await self._deliver_again(job)
                return
            if not job.runpod_id:
                if not await self.ledger.lease(job_id, self.owner, self.settings.lease_s, "renew"):
                    return  # another process took the job over: it submits
                await self._submit(job)
                interval = self.settings.poll_min_s
                continue
            status = await self._status(job)
            if status is not None and status.is_terminal:
                if await self._terminal(job, status):
                    return
                continue
            if status is not None:
                await self._report(job, status)
            running = status is not None and status.status is JobState.IN_PROGRESS
            interval = await self._sleep(job_id, interval, running=running)

    async def _sleep(self, job_id: str, interval: float, *, running: bool) -> float:
        """Wait for the next poll (or a wake-up); returns the next interval (backoff).

        With RunPod's webhook a waiting job is polled only as a fallback; a running one still is, for its progress.
        """
        s = self.settings
        wait = s.poll_webhook_s if s.runpod_webhook_url and not running else interval
        event = self._wake.get(job_id)
        if event is None:
            await asyncio.sleep(wait)
        else:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races its timeout.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await event.wait()
            event.clear()
        return min(interval * 1.5, s.poll_max_s)

    async def _submit(self, job: JobRecord) -> None:
        s = self.settings
        remaining_ms = max(job.deadline - now_ms(), 1000)
        policy = Policy(executionTimeout=remaining_ms, ttl=remaining_ms + 60_000)
        webhook = f"{s.runpod_webhook_url}/{job.id}" if s.runpod_webhook_url else None
        try:
            payload = await self.build_input(job)
        except Exception as exc:
            log.warning("cannot build the job input: %s", exc, extra={"job_id": job.id})
            await self._settle(job, charged=False, error=_error(ErrorCode.INVALID_INPUT))
            return
        for attempt in range(SUBMIT_ATTEMPTS):
            try:
                status = await self.endpoint.run(payload, webhook=webhook, policy=policy)
                break
            except Exception as exc:
                log.warning("submit failed (%s/%s): %s", attempt + 1, SUBMIT_ATTEMPTS, exc, extra={"job_id": job.id})
                await asyncio.sleep(s.poll_min_s * (attempt + 1))
        else:
            await self._settle(job, charged=False, error=_error(ErrorCode.INTERNAL))
            return
        await self.ledger.update_job(job.id, state="running", runpod_id=status.id, phase="submitted")
        log.info("submitted", extra={"job_id": job.id, "runpod_id": status.id, "attempt": job.attempts})
        await self.notifier.progress(job, "queued", position=await self._position(job.id, queued=True))

    async def _status(self, job: JobRecord) -> JobStatus | None:
        try:
            return await self.endpoint.status(job.runpod_id)
        except JobNotFound:
            # RunPod forgot the job (its ttl passed, or the queue was purged): a lost job, like a crashed worker.
            lost = ErrorInfo(code=ErrorCode.INTERNAL, message=USER_MESSAGES[ErrorCode.INTERNAL], retryable=True)
            return JobStatus(id=job.runpod_id, status=JobState.FAILED, error=lost.model_dump_json())
        except Exception as exc:
            log.warning("status failed: %s", exc, extra={"job_id": job.id})
            return None

    async def _report(self, job: JobRecord, status: JobStatus) -> None:
        if status.status is JobState.IN_QUEUE:
            await self.notifier.progress(job, "queued", position=await self._position(job.id, queued=True))
        else:
            await self._position(job.id, queued=False)
            if job.phase != "running":
                await self.ledger.update_job(job.id, phase="running")
            await self.notifier.progress(job, "running", percent=_percent(status), preview=_preview(status))

    async def _position(self, job_id: str, *, queued: bool) -> int:
        """Queue position among this bot's jobs waiting on the endpoint (1-based); 0 once running."""
        k = self.ledger.keys
        redis = self.ledger.redis
        if not queued:
            await redis.zrem(k.queued, job_id)
            return 0
        await redis.zadd(k.queued, {job_id: now_ms()}, nx=True)
        rank = await redis.zrank(k.queued, job_id)
        return rank + 1 if isinstance(rank, int) else 1

    async def _terminal(self, job: JobRecord, status: JobStatus) -> bool:
        """Handle a finished endpoint job; False when the job was resubmitted and tracking goes on."""
        if status.status is JobState.COMPLETED:
            output = _output(status)
            if output is None or not output.outputs:
                await self._settle(job, charged=False, error=_error(NO_OUTPUT))
                return True
            await self._deliver(job, output)
            return True
        error = status.error_info() or _error(ErrorCode.INTERNAL, retryable=True)
        retry = error.retryable and error.code != ErrorCode.TIMEOUT and job.attempts < self.settings.max_retries
        if retry and await self.ledger.update_job(job.id, runpod_id="", attempts=job.attempts + 1, phase=""):
            log.info("retrying after %s", error.code, extra={"job_id": job.id, "attempt": job.attempts + 1})
            return False
        await self._settle(job, charged=False, error=error)
        return True

    async def _deliver(self, job: JobRecord, output: JobOutput) -> None:
        # Kept a day: redelivery after a crash, and the "original file" button.
        await self.ledger.redis.set(self.ledger.keys.result(job.id), output.model_dump_json(), ex=RESULT_TTL_S)
        if not await self.ledger.update_job(job.id, phase="delivering"):
            return
        await self.notifier.progress(job, "delivering")
        try:
            delivered = await self.notifier.deliver(job, output)
        except Exception:
            log.exception("delivery failed", extra={"job_id": job.id})
            delivered = False
        error = None if delivered else _error(DELIVERY_FAILED)
        await self._settle(job, charged=delivered, error=error)

    async def _deliver_again(self, job: JobRecord) -> None:
        """A process died while delivering: deliver again (a duplicate beats a paid result never received)."""
        output = await stored_output(self.ledger, job.id)
        if output is None:
            await self._settle(job, charged=False, error=_error(NO_OUTPUT))
            return
        job = job.model_copy(update={"phase": ""})
        await self.ledger.update_job(job.id, phase="")
        await self._deliver(job, output)

    async def _stop_remote(self, job: JobRecord) -> None:
        if not job.runpod_id:
            return
        try:
            await self.endpoint.cancel(job.runpod_id)
        except Exception as exc:
            log.warning("cancel on the endpoint failed: %s", exc, extra={"job_id": job.id})

    async def _settle(self, job: JobRecord, *, charged: bool, error: ErrorInfo | None) -> None:
        code = "" if error is None else str(error.details.get("bot_code", error.code.value))
        outcome = await self.ledger.finalize(job.id, charged=charged, code=code)
        if not outcome.ok:
            return  # someone else settled it; they told the user
        log.info("settled", extra={"job_id": job.id, "charged": charged, "code": code})
        try:
            await self.notifier.settled(job, charged=charged, error=error)
        except Exception:
            log.exception("could not tell the user", extra={"job_id": job.id})
