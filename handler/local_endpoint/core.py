"""The endpoint's queue: jobs move IN_QUEUE -> IN_PROGRESS -> a final state on a pool of worker processes."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from typing import Any

import httpcore

from handler.address_policy import AddressRefused, check_url
from handler.local_endpoint.child import error_result
from handler.local_endpoint.jobs import Job
from handler.local_endpoint.models import Health, JobCounts, JobState, RunRequest, WorkerCounts
from handler.local_endpoint.pool import SlotState, WorkerSlot, device_envs
from handler.local_endpoint.settings import EndpointSettings
from handler.local_endpoint.webhooks import deliver, webhook_pool
from handler.settings import WorkerSettings
from workflows.contract import ErrorCode

log = logging.getLogger("handler.local_endpoint")

_STOP_STATES = {ErrorCode.CANCELLED: JobState.CANCELLED, ErrorCode.TIMEOUT: JobState.TIMED_OUT}


class PolicyError(ValueError):
    """A /run policy outside the bounds RunPod accepts."""


class NotRetryable(ValueError):
    """/retry of a job that is not FAILED or TIMED_OUT."""


class LocalEndpoint:
    """Holds every job and worker; all methods run on the event loop that called ``start``."""

    def __init__(self, settings: EndpointSettings, worker_settings: WorkerSettings) -> None:
        self.settings = settings
        self.jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._low: deque[Job] = deque()  # lowPriority jobs run only when nothing else waits
        self.slots = [WorkerSlot(i, worker_settings, env, self) for i, env in enumerate(device_envs(settings.workers))]
        self.counts = JobCounts()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http: httpcore.AsyncConnectionPool | None = None
        self._closing = False

    # ----- life cycle
    async def start(self) -> None:
        self._http = webhook_pool(allow_loopback=self.settings.allow_loopback_webhooks)
        for slot in self.slots:
            slot.start()
        self._spawn(self._sweep())

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(slot.stop() for slot in self.slots))
        if self._http is not None:
            await self._http.aclose()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----- API operations
    def submit(self, request: RunRequest, *, sync: bool) -> Job:
        policy = request.policy
        timeout_ms = policy.executionTimeout if policy and policy.executionTimeout else None
        ttl_ms = policy.ttl if policy and policy.ttl else None
        s = self.settings
        if timeout_ms is not None and not s.min_execution_timeout_ms < timeout_ms <= s.max_execution_timeout_ms:
            raise PolicyError(
                f"policy.executionTimeout must be more than {s.min_execution_timeout_ms} ms "
                f"and at most {s.max_execution_timeout_ms} ms"
            )
        if ttl_ms is not None and not s.min_ttl_ms <= ttl_ms <= s.max_ttl_ms:
            raise PolicyError(f"policy.ttl must be between {s.min_ttl_ms} and {s.max_ttl_ms} ms")
        if request.webhook is not None:
            self._check_webhook(request.webhook)
        job = Job(
            id=("sync-" if sync else "") + str(uuid.uuid4()),
            request=request,
            sync=sync,
            execution_timeout_s=(timeout_ms or s.default_execution_timeout_ms) / 1000,
            ttl_s=(ttl_ms or s.default_ttl_ms) / 1000,
            retain_s=s.runsync_result_ttl_s if sync else s.run_result_ttl_s,
        )
        self.jobs[job.id] = job
        self._enqueue(job)
        log.info("job queued", extra={"job_id": job.id, "fields": {"sync": sync}})
        return job

    def _check_webhook(self, url: str) -> None:
        """Refuse at once what the address policy refuses without DNS; names are resolved (and pinned) when
        the webhook is sent."""
        try:  # IP literals in every spelling (127.1, 0x7f.1, [::ffff:7f00:1]) and localhost names are refused here
            check_url(url, allow_loopback=self.settings.allow_loopback_webhooks, what="webhook")
        except AddressRefused as exc:
            raise PolicyError(str(exc)) from None

    def get(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        if job is not None and time.monotonic() >= job.expires_at:
            self._expire(job)
            return None
        return job

    def set_retention(self, job: Job, retain_ms: int) -> None:
        """``/status/{id}?ttl=ms``: keep this job's result for that long after it finished."""
        if not 0 < retain_ms <= self.settings.max_ttl_ms:
            raise PolicyError(f"ttl must be between 1 and {self.settings.max_ttl_ms} ms")
        job.retain_s = retain_ms / 1000

    def cancel(self, job: Job) -> None:
        if job.status is JobState.IN_QUEUE:
            self._finish(job, JobState.CANCELLED, error=error_result(ErrorCode.CANCELLED)["error"])
        elif job.status is JobState.IN_PROGRESS:
            self._stop_running(job, ErrorCode.CANCELLED)

    def retry(self, job: Job) -> None:
        if job.status not in (JobState.FAILED, JobState.TIMED_OUT):
            raise NotRetryable(f"job {job.id} is {job.status.value}; only FAILED or TIMED_OUT jobs can be retried")
        if job.input_dropped:
            raise NotRetryable(
                f"job {job.id}'s input was dropped when a worker took it "
                "(LOCAL_ENDPOINT_KEEP_INPUT_FOR_RETRY=false); submit it again"
            )
        job.requeue()
        self.counts.retried += 1
        self._enqueue(job)

    def purge_queue(self) -> int:
        queued = [job for job in self.jobs.values() if job.status is JobState.IN_QUEUE]
        for job in queued:
            del self.jobs[job.id]
        self._queue.clear()
        self._low.clear()
        log.info("queue purged", extra={"fields": {"removed": len(queued)}})
        return len(queued)

    def health(self) -> Health:
        states = [slot.state for slot in self.slots]
        idle = states.count(SlotState.IDLE)
        jobs = self.counts.model_copy(
            update={
                "inQueue": sum(job.status is JobState.IN_QUEUE for job in self.jobs.values()),
                "inProgress": sum(job.status is JobState.IN_PROGRESS for job in self.jobs.values()),
            }
        )
        workers = WorkerCounts(
            idle=idle,
            ready=idle,
            running=states.count(SlotState.BUSY),
            initializing=sum(state in (SlotState.STARTING, SlotState.STOPPED, SlotState.RETIRING) for state in states),
            unhealthy=states.count(SlotState.UNHEALTHY),
        )
        return Health(jobs=jobs, workers=workers)

    # ----- scheduling
    def _enqueue(self, job: Job) -> None:
        low = job.request.policy is not None and job.request.policy.lowPriority
        (self._low if low else self._queue).append(job)
        # Dispatch on the next turn of the loop: /run and /retry answer IN_QUEUE, as RunPod does.
        asyncio.get_running_loop().call_soon(self._dispatch)

    def _next_queued(self) -> Job | None:
        for queue in (self._queue, self._low):
            while queue:
                job = queue.popleft()
                if job.status is not JobState.IN_QUEUE or self.jobs.get(job.id) is not job:
                    continue  # cancelled, purged or already expired
                if time.monotonic() >= job.expires_at:
                    self._expire(job)
                    continue
                return job
        return None

    def _dispatch(self) -> None:
        for slot in self.slots:
            if slot.state is not SlotState.IDLE:
                continue
            job = self._next_queued()
            if job is None:
                return
            job.start(slot.worker_id)
            loop = asyncio.get_running_loop()
            job.timeout_handle = loop.call_later(job.execution_timeout_s, self._stop_running, job, ErrorCode.TIMEOUT)
            slot.send_job(job.job_message())
            if not self.settings.keep_input_for_retry:
                job.drop_input()  # the worker has it now; the endpoint keeps only the status
            log.info("job started", extra={"job_id": job.id, "fields": {"worker": slot.worker_id}})

    def _slot_of(self, job: Job) -> WorkerSlot | None:
        return next((slot for slot in self.slots if slot.job_id == job.id), None)

    def _stop_running(self, job: Job, code: ErrorCode) -> None:
        """Cancel or time out a running job: final at once; its process gets a grace period to stop."""
        slot = self._slot_of(job)
        self._finish(job, _STOP_STATES[code], error=error_result(code)["error"])
        if slot is None:
            return
        slot.cancel(job.id, code.value)
        generation = slot.generation
        asyncio.get_running_loop().call_later(
            self.settings.cancel_grace_s, self._kill_if_stuck, slot, job.id, generation
        )

    def _kill_if_stuck(self, slot: WorkerSlot, job_id: str, generation: int) -> None:
        if slot.generation == generation and slot.job_id == job_id:
            slot.kill()  # its reader reports the exit and the slot is respawned

    def _finish(self, job: Job, status: JobState, *, output: Any = None, error: Any = None) -> None:
        job.finish(status, output=output, error=error)
        if status is JobState.COMPLETED:
            self.counts.completed += 1
        elif status in (JobState.FAILED, JobState.TIMED_OUT):
            self.counts.failed += 1
        log.info("job finished", extra={"job_id": job.id, "fields": {"status": status.value}})
        if job.request.webhook is not None:
            self._spawn(self._notify(job.request.webhook, job.body()))

    async def _notify(self, url: str, body: dict[str, Any]) -> None:
        assert self._http is not None
        s = self.settings
        await deliver(
            self._http,
            url,
            body,
            attempts=s.webhook_attempts,
            interval_s=s.webhook_retry_interval_s,
            timeout_s=s.webhook_timeout_s,
        )

    def _expire(self, job: Job) -> None:
        if job.status is JobState.IN_PROGRESS:  # ttl covers the run too: stop it, then forget it
            self._stop_running(job, ErrorCode.CANCELLED)
        self.jobs.pop(job.id, None)
        log.info("job expired", extra={"job_id": job.id})

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval_s)
            now = time.monotonic()
            for job in [job for job in self.jobs.values() if now >= job.expires_at]:
                self._expire(job)

    # ----- PoolListener
    def worker_ready(self, slot: WorkerSlot) -> None:
        log.info("worker ready", extra={"fields": {"slot": slot.index, "pid": slot.pid}})
        self._dispatch()

    def worker_progress(self, slot: WorkerSlot, job_id: str, data: Any) -> None:
        job = self.jobs.get(job_id)
        if job is not None and job.status is JobState.IN_PROGRESS:
            job.progress = data
            job.stream.append({"output": data})

    def worker_result(self, slot: WorkerSlot, job_id: str, result: Any) -> None:
        job = self.jobs.get(job_id)
        refresh = isinstance(result, dict) and bool(result.pop("refresh_worker", False))
        if job is not None and job.status is JobState.IN_PROGRESS:
            if isinstance(result, dict) and "error" in result:
                self._finish(job, JobState.FAILED, error=result["error"])
            else:
                self._finish(job, JobState.COMPLETED, output=result)
        if refresh:  # the handler asked for a fresh process (e.g. after running out of GPU memory)
            slot.retire()
        else:
            self._dispatch()

    def worker_exited(self, slot: WorkerSlot, job_id: str | None, detail: str) -> None:
        job = self.jobs.get(job_id) if job_id else None
        if job is not None and job.status is JobState.IN_PROGRESS:
            message = f"The worker process died while running the job ({detail})."
            self._finish(job, JobState.FAILED, error=error_result(ErrorCode.INTERNAL, message, worker=detail)["error"])
        delay = min(30.0, 2.0**slot.boot_failures) if slot.state is SlotState.UNHEALTHY else 0.0
        asyncio.get_running_loop().call_later(delay, self._respawn, slot)

    def _respawn(self, slot: WorkerSlot) -> None:
        if slot.state in (SlotState.STOPPED, SlotState.UNHEALTHY) and not self._closing:
            slot.start()
