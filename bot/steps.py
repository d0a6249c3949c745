"""The steps of a generation, each one short queue job: submit, watch (poll or webhook), deliver; settling ends it.

Every step reads the job from Redis, acts on its stage (bot/stages.py) and moves it on with one compare-and-set, so
a step run twice (a take-over after a crash, a sweep) does nothing the second time. What a step may never do:
send /run for a job whose /run may already have arrived (stage SUBMITTING), or refund a finished result because
this process is stopping (a cancelled step raises CancelledError, and the queue hands it to another process).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from arq import Retry
from telegram.error import NetworkError, RetryAfter

from bot.jobs import JobRecord
from bot.ledger import now_ms
from bot.runpod_client import (
    JobNotFound,
    JobStatus,
    Policy,
    RunPodError,
    RunPodHTTPError,
    RunPodUnavailable,
    SubmitUncertain,
)
from bot.stages import Stage
from workflows.contract import USER_MESSAGES, ErrorCode, ErrorInfo, JobOutput, JobState

if TYPE_CHECKING:
    from bot.lifecycle import Lifecycle

log = logging.getLogger("bot.steps")

DELIVERY_FAILED = "DELIVERY_FAILED"
NO_OUTPUT = "NO_OUTPUT"
SUBMIT_UNCERTAIN = "SUBMIT_UNCERTAIN"
RESULT_TTL_S = 24 * 3600


class Notifier(Protocol):
    """How the lifecycle talks to the user (the Telegram side implements it)."""

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


def error(code: str, message: str = "", retryable: bool = False) -> ErrorInfo:
    """An ErrorInfo for a failure the bot itself detects (codes outside ErrorCode map to INTERNAL)."""
    known = code in ErrorCode.__members__
    err_code = ErrorCode(code) if known else ErrorCode.INTERNAL
    return ErrorInfo(
        code=err_code,
        message=message or USER_MESSAGES[err_code],
        retryable=retryable,
        details={} if known else {"bot_code": code},
    )


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
    return progress.preview if progress is not None else None


class Steps:
    """The body of each queue job; ``lc`` gives the shared parts (ledger, endpoint, notifier, settings)."""

    def __init__(self, lc: Lifecycle) -> None:
        self.lc = lc
        self.s = lc.settings

    async def _open(self, job_id: str) -> JobRecord | None:
        """The job if it is still open and not past its end (cancelled or out of time: settled here)."""
        job = await self.lc.load(job_id)
        if job is None or not job.is_open:
            return None
        if job.stage is Stage.DELIVERING:
            return job  # the result exists: it is delivered whatever happens (a late cancel, the deadline)
        if job.cancel:
            await self._stop_remote(job)
            await self.lc.settle(job, charged=False, error=error(job.cancel_reason or ErrorCode.CANCELLED))
            return None
        if now_ms() >= job.deadline:
            await self._stop_remote(job)
            await self.lc.settle(job, charged=False, error=error(ErrorCode.TIMEOUT))
            return None
        return job

    # submit ------------------------------------------------------------------------------------------------

    async def submit(self, job_id: str, attempt: int) -> None:
        job = await self._open(job_id)
        if job is None or job.attempts != attempt:
            return
        if job.stage is Stage.SUBMITTING:
            await self._uncertain(job)
            return
        if job.stage is not Stage.RESERVED:
            await self.lc.enqueue_next(job)  # already past this step (a repeated run): make sure the next exists
            return
        try:
            payload = await self.lc.build_input(job)
        except Exception as exc:
            log.warning("cannot build the job input: %s", exc, extra={"job_id": job.id})
            await self.lc.settle(job, charged=False, error=error(ErrorCode.INVALID_INPUT))
            return
        if not await self.lc.advance(job, Stage.SUBMITTING, submit_at=now_ms()):
            return  # another process moved it first
        remaining_ms = max(job.deadline - now_ms(), 1000)
        policy = Policy(executionTimeout=remaining_ms, ttl=remaining_ms + 60_000)
        webhook = f"{self.s.runpod_webhook_url}/{job.id}" if self.s.runpod_webhook_url else None
        sending = job.model_copy(update={"stage": Stage.SUBMITTING})
        try:
            status = await self.lc.endpoint.run(payload, webhook=webhook, policy=policy)
        except SubmitUncertain as exc:
            log.warning("submit may have arrived: %s", exc, extra={"job_id": job.id})
            await self._uncertain(sending)
            return
        except (RunPodUnavailable, RunPodHTTPError) as exc:
            await self._refused(sending, exc)
            return
        await self.accepted(sending, status.id)

    async def accepted(self, job: JobRecord, runpod_id: str) -> bool:
        """RunPod has the job (its /run answer, or a webhook naming it): record it and start watching."""
        if not await self.lc.advance(job, Stage.QUEUED, runpod_id=runpod_id):
            return False
        log.info("submitted", extra={"job_id": job.id, "runpod_id": runpod_id, "attempt": job.attempts})
        queued = job.model_copy(update={"stage": Stage.QUEUED, "runpod_id": runpod_id})
        await self.lc.enqueue_next(queued, defer_s=self.s.poll_min_s)
        await self.lc.notifier.progress(queued, "queued", position=await self.lc.position(job.id, queued=True))
        return True

    async def _refused(self, job: JobRecord, exc: RunPodError) -> None:
        """/run surely never created a job: send it again later (429, no connection) or give up (4xx)."""
        status = exc.status_code if isinstance(exc, RunPodHTTPError) else None
        log.warning("submit refused: %s", exc, extra={"job_id": job.id})
        if status is None or status == 429:
            if await self.lc.advance(job, Stage.RESERVED):
                defer = exc.retry_after if isinstance(exc, RunPodHTTPError) and exc.retry_after else self.s.poll_max_s
                raise Retry(defer=defer)
            return
        code = ErrorCode.INVALID_INPUT if status in (400, 413) else ErrorCode.INTERNAL
        await self.lc.settle(job, charged=False, error=error(code))

    async def _uncertain(self, job: JobRecord) -> None:
        """/run may have created a RunPod job we do not know the id of. Never resend: with RunPod's webhook
        (its URL carries our job id) wait for it to name the job, until the deadline; without one, refund now."""
        if self.s.runpod_webhook_url:
            raise Retry(defer=self.s.poll_webhook_s)  # the webhook moves it to QUEUED; _open ends it at the deadline
        await self.lc.settle(job, charged=False, error=error(SUBMIT_UNCERTAIN))

    # watch -------------------------------------------------------------------------------------------------

    async def watch(self, job_id: str, attempt: int, polls: int) -> None:
        job = await self._open(job_id)
        if job is None or job.attempts != attempt or job.stage not in (Stage.QUEUED, Stage.RUNNING):
            return
        try:
            status = await self.lc.endpoint.status(job.runpod_id)
        except JobNotFound:
            # RunPod forgot the job (its ttl passed, or the queue was purged): a lost job, like a crashed worker.
            lost = ErrorInfo(code=ErrorCode.INTERNAL, message=USER_MESSAGES[ErrorCode.INTERNAL], retryable=True)
            status = JobStatus(id=job.runpod_id, status=JobState.FAILED, error=lost.model_dump_json())
        except RunPodError as exc:
            log.warning("status failed: %s", exc, extra={"job_id": job.id})
            raise Retry(defer=self._interval(polls, running=False)) from exc
        if status.is_terminal:
            await self._terminal(job, status)
            return
        running = status.status is JobState.IN_PROGRESS
        if running and job.stage is Stage.QUEUED:
            await self.lc.advance(job, Stage.RUNNING)
        await self._report(job, status)
        raise Retry(defer=self._interval(polls, running=running))

    def _interval(self, polls: int, *, running: bool) -> float:
        """Backoff from POLL_MIN_S to POLL_MAX_S; with RunPod's webhook a waiting job is polled only as a fallback
        (a running one still is, for its progress)."""
        if self.s.runpod_webhook_url and not running:
            return self.s.poll_webhook_s
        return float(min(self.s.poll_min_s * 1.5 ** max(polls - 1, 0), self.s.poll_max_s))

    async def _report(self, job: JobRecord, status: JobStatus) -> None:
        if status.status is JobState.IN_QUEUE:
            await self.lc.notifier.progress(job, "queued", position=await self.lc.position(job.id, queued=True))
        else:
            await self.lc.position(job.id, queued=False)
            await self.lc.notifier.progress(job, "running", percent=_percent(status), preview=_preview(status))

    async def _terminal(self, job: JobRecord, status: JobStatus) -> None:
        if status.status is JobState.COMPLETED:
            output = _output(status)
            if output is None or not output.outputs:
                await self.lc.settle(job, charged=False, error=error(NO_OUTPUT))
                return
            # Kept a day: delivery (again, after a crash or a deploy), and the "original file" button.
            await self.lc.redis.set(self.lc.keys.result(job.id), output.model_dump_json(), ex=RESULT_TTL_S)
            if await self.lc.advance(job, Stage.DELIVERING):
                await self.lc.enqueue_next(job.model_copy(update={"stage": Stage.DELIVERING}))
            return
        err = status.error_info() or error(ErrorCode.INTERNAL, retryable=True)
        retry = err.retryable and err.code != ErrorCode.TIMEOUT and job.attempts < self.s.max_retries
        if retry and await self.lc.advance(job, Stage.RESERVED, runpod_id="", attempts=job.attempts + 1):
            log.info("retrying after %s", err.code, extra={"job_id": job.id, "attempt": job.attempts + 1})
            await self.lc.enqueue_next(job.model_copy(update={"stage": Stage.RESERVED, "attempts": job.attempts + 1}))
            return
        await self.lc.settle(job, charged=False, error=err)

    async def _stop_remote(self, job: JobRecord) -> None:
        if not job.runpod_id:
            return
        try:
            await self.lc.endpoint.cancel(job.runpod_id)
        except RunPodError as exc:
            log.warning("cancel on the endpoint failed: %s", exc, extra={"job_id": job.id})

    # deliver -----------------------------------------------------------------------------------------------

    async def deliver(self, job_id: str, tries: int) -> None:
        job = await self._open(job_id)
        if job is None or job.stage is not Stage.DELIVERING:
            return
        output = await self.lc.stored_output(job.id)
        if output is None:
            await self.lc.settle(job, charged=False, error=error(NO_OUTPUT))
            return
        await self.lc.notifier.progress(job, "delivering")
        try:
            delivered = await self.lc.notifier.deliver(job, output)
        except (NetworkError, RetryAfter) as exc:  # Telegram unreachable or flooded: the result is not lost
            if tries < self.s.deliver_attempts:
                log.warning("delivery interrupted (%s); trying again", exc, extra={"job_id": job.id})
                raise Retry(defer=self.s.poll_max_s) from exc
            delivered = False
        except asyncio.CancelledError:
            raise  # this process is stopping: the queue hands the step to another one (never a refund)
        except Exception:
            log.exception("delivery failed", extra={"job_id": job.id})
            delivered = False
        await self.lc.settle(job, charged=delivered, error=None if delivered else error(DELIVERY_FAILED))
