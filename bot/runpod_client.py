"""Typed async client of RunPod's serverless queue API (``/v2/{endpoint_id}/...``) over httpx.

Points at RunPod or at the local endpoint (``python -m handler.local_endpoint``) through settings alone.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx
import stamina
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from workflows.contract import (
    RETRYABLE,
    USER_MESSAGES,
    ErrorCode,
    ErrorInfo,
    JobOutput,
    JobState,
    Progress,
    parse_error,
)
from workflows.runpod_wire import TERMINAL, Health, Policy, PurgeResult, RunRequest, S3Config, StreamResult
from workflows.runpod_wire import JobStatus as WireStatus

__all__ = [
    "TERMINAL",
    "EndpointHealth",
    "JobNotFound",
    "JobState",
    "JobStatus",
    "Policy",
    "Progress",
    "PurgeResult",
    "RunPodClient",
    "RunPodError",
    "RunPodHTTPError",
    "RunPodSettings",
    "RunPodUnavailable",
    "S3Config",
    "StreamResult",
    "SubmitUncertain",
]

log = logging.getLogger("bot.runpod_client")


class RunPodSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNPOD_", env_file=".env", extra="ignore")

    base_url: str = "https://api.runpod.ai/v2"
    endpoint_id: str = Field(min_length=1)
    api_key: SecretStr | None = None

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_connections: int = 20
    max_attempts: int = Field(
        default=5,
        ge=1,
        description="tries of an idempotent call (/status, /cancel, ...) on connection errors, 429, 5xx",
    )
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 20.0

    poll_initial_s: float = Field(default=1.0, gt=0)
    poll_max_s: float = Field(default=5.0, gt=0)
    poll_factor: float = Field(default=1.5, ge=1.0)
    image_deadline_s: float = 200.0
    video_deadline_s: float = 400.0


class JobStatus(WireStatus):
    """A job as RunPod reports it (workflows/runpod_wire.py), with the bot's readings of its output."""

    def progress(self) -> Progress | None:
        """The worker's latest progress update while IN_PROGRESS; None before the first one."""
        if self.status is not JobState.IN_PROGRESS or not isinstance(self.output, dict):
            return None
        try:
            return Progress.model_validate(self.output)
        except ValidationError:
            return None

    def job_output(self) -> JobOutput | None:
        """The result of a COMPLETED job; None in any other state. Raises ValidationError on a foreign output."""
        if self.status is not JobState.COMPLETED:
            return None
        return JobOutput.model_validate(self.output)

    def error_info(self) -> ErrorInfo | None:
        """Why a job ended without a result; None unless FAILED, CANCELLED or TIMED_OUT."""
        if self.status in (JobState.COMPLETED, JobState.IN_QUEUE, JobState.IN_PROGRESS):
            return None
        if self.error is not None:
            return parse_error(self.error)
        code = {JobState.CANCELLED: ErrorCode.CANCELLED, JobState.TIMED_OUT: ErrorCode.TIMEOUT}.get(self.status)
        if code is None:
            return parse_error(None)
        return ErrorInfo(code=code, message=USER_MESSAGES[code], retryable=RETRYABLE[code])


EndpointHealth = Health


class RunPodError(Exception):
    """Any failure talking to the endpoint."""


class RunPodHTTPError(RunPodError):
    """The endpoint answered with an error status (after retries, for 429 and 5xx of idempotent calls)."""

    def __init__(self, status_code: int, message: str, path: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status_code} from {path}: {message}")
        self.status_code, self.message, self.path, self.retry_after = status_code, message, path, retry_after


class JobNotFound(RunPodHTTPError):
    """404: an unknown job id, or one whose result has expired (ttl or retention passed, or purged)."""


class RunPodUnavailable(RunPodError):
    """The endpoint could not be reached (the request never left, or got no answer on an idempotent call)."""


class SubmitUncertain(RunPodError):
    """/run may have reached RunPod (no answer, a 5xx, an unreadable answer): a job may exist. Never resend it."""


ProgressHook = Callable[[JobStatus], Awaitable[None] | None]
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # the request never reached the server


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body.get("detail") or body)[:500]
    return str(body)[:500]


def retry_after_s(response: httpx.Response) -> float | None:
    """Retry-After in seconds, given as seconds or as an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _worth_retrying(exc: Exception) -> bool | float:
    """stamina's hook for idempotent calls: retry lost connections, 429 and 5xx (after Retry-After, if given)."""
    if isinstance(exc, RunPodUnavailable):
        return True
    if isinstance(exc, RunPodHTTPError) and exc.status_code in _RETRY_STATUSES:
        return exc.retry_after if exc.retry_after is not None else True
    return False


class RunPodClient:
    """One shared connection pool; use as ``async with RunPodClient(settings) as client``."""

    def __init__(self, settings: RunPodSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        headers = {"Accept": "application/json"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._http = httpx.AsyncClient(
            base_url=f"{settings.base_url.rstrip('/')}/{settings.endpoint_id}",
            headers=headers,
            timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(max_connections=settings.max_connections),
            transport=transport,
        )
        self.requests_made: dict[str, int] = {}  # per route, for metrics and benchmarks

    async def __aenter__(self) -> RunPodClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ----- operations. Each call type has one retry policy: /run, /runsync and /retry create work and are sent
    # once; /status, /stream, /health, /cancel and /purge-queue are idempotent and retried.
    async def run(
        self,
        input: dict[str, Any],
        *,
        webhook: str | None = None,
        policy: Policy | None = None,
        s3_config: S3Config | None = None,
    ) -> JobStatus:
        """Submit a job, exactly one request. Raises SubmitUncertain when the request may have reached RunPod
        (a job may exist: resolve it, never resend), RunPodUnavailable or RunPodHTTPError when it surely did not."""
        body = RunRequest(input=input, webhook=webhook, policy=policy, s3Config=s3_config).wire()
        answer = await self._submit("/run", json=body)
        try:
            return JobStatus.model_validate(answer)
        except ValidationError as exc:  # accepted, but without a job id we can read: a job may exist
            raise SubmitUncertain(f"POST /run: unreadable answer: {exc}") from exc

    async def runsync(self, input: dict[str, Any], *, wait_ms: int | None = None) -> JobStatus:
        params = {"wait": wait_ms} if wait_ms is not None else None
        return JobStatus.model_validate(await self._submit("/runsync", json={"input": input}, params=params))

    async def status(self, job_id: str) -> JobStatus:
        return JobStatus.model_validate(await self._idempotent("GET", f"/status/{job_id}"))

    async def stream(self, job_id: str) -> StreamResult:
        return StreamResult.model_validate(await self._idempotent("GET", f"/stream/{job_id}"))

    async def cancel(self, job_id: str) -> JobStatus:
        return JobStatus.model_validate(await self._idempotent("POST", f"/cancel/{job_id}"))

    async def retry(self, job_id: str) -> JobStatus:
        return JobStatus.model_validate(await self._submit(f"/retry/{job_id}"))

    async def health(self) -> EndpointHealth:
        return EndpointHealth.model_validate(await self._idempotent("GET", "/health"))

    async def purge_queue(self) -> PurgeResult:
        # Idempotent in effect (the queue ends empty either way), so it is retried like a read.
        return PurgeResult.model_validate(await self._idempotent("POST", "/purge-queue"))

    async def wait(self, job_id: str, *, deadline_s: float, on_progress: ProgressHook | None = None) -> JobStatus:
        """Poll /status until the job is final or ``deadline_s`` passes; then cancel it and report TIMED_OUT.

        ``on_progress`` (sync or async) hears every status that differs from the previous one.
        Raises JobNotFound if the job vanished (ttl expired, purged).
        """
        s = self.settings
        deadline = time.monotonic() + deadline_s
        delay, last = s.poll_initial_s, None
        while True:
            current = await self.status(job_id)
            if current.is_terminal:
                return current
            if on_progress is not None and (last is None or (current.status, current.output) != last):
                outcome = on_progress(current)
                if inspect.isawaitable(outcome):
                    await outcome
            last = (current.status, current.output)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return await self._give_up(job_id, current, deadline_s)
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * s.poll_factor, s.poll_max_s)

    async def _give_up(self, job_id: str, current: JobStatus, deadline_s: float) -> JobStatus:
        log.warning(
            "job deadline passed, cancelling",
            extra={"job_id": job_id, "fields": {"deadline_s": deadline_s, "status": current.status.value}},
        )
        cancelled = await self.cancel(job_id)
        if cancelled.status is JobState.COMPLETED:  # it finished in the meantime: the result counts
            return await self.status(job_id)
        info = ErrorInfo(
            code=ErrorCode.TIMEOUT,
            message=USER_MESSAGES[ErrorCode.TIMEOUT],
            retryable=RETRYABLE[ErrorCode.TIMEOUT],
            details={"deadline_s": deadline_s, "cancelled_by": "client"},
        )
        return current.model_copy(update={"status": JobState.TIMED_OUT, "error": info.model_dump_json()})

    # ----- transport
    async def _idempotent(self, method: str, path: str, **kwargs: Any) -> Any:
        """An idempotent call under its retry policy (stamina): lost connections, 429 and 5xx are retried."""
        s = self.settings
        retrying = stamina.retry_context(
            on=_worth_retrying,
            attempts=s.max_attempts,
            timeout=None,
            wait_initial=s.backoff_base_s,
            wait_max=s.backoff_cap_s,
            wait_jitter=s.backoff_base_s,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(method, path, **kwargs)
        raise AssertionError("unreachable")  # stamina re-raises the last error

    async def _once(self, method: str, path: str, **kwargs: Any) -> Any:
        self._count(path)
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise RunPodUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        return self._read(response, f"{method} {path}")

    async def _submit(self, path: str, **kwargs: Any) -> Any:
        """A call that creates work: sent once; when it may have arrived, SubmitUncertain says so."""
        self._count(path)
        try:
            response = await self._http.request("POST", path, **kwargs)
        except _NEVER_SENT as exc:
            raise RunPodUnavailable(f"POST {path}: {type(exc).__name__}: {exc}") from exc
        except httpx.TransportError as exc:  # sent, but no (complete) answer: ReadTimeout, a dropped connection
            raise SubmitUncertain(f"POST {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise SubmitUncertain(f"POST {path}: HTTP {response.status_code}: {_error_message(response)}")
        try:
            return self._read(response, f"POST {path}")
        except ValueError as exc:  # a 2xx we cannot read: the job may exist
            raise SubmitUncertain(f"POST {path}: unreadable answer: {exc}") from exc

    def _count(self, path: str) -> None:
        route = path.split("/")[1]
        self.requests_made[route] = self.requests_made.get(route, 0) + 1

    @staticmethod
    def _read(response: httpx.Response, what: str) -> Any:
        if response.status_code < 400:
            return response.json()
        error = JobNotFound if response.status_code == 404 and what.count("/") > 1 else RunPodHTTPError
        raise error(response.status_code, _error_message(response), what, retry_after_s(response))
