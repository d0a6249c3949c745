"""Typed async client of RunPod's serverless queue API (``/v2/{endpoint_id}/...``) over httpx.

Points at RunPod or at the local endpoint (``python -m handler.local_endpoint``) through settings alone.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
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

log = logging.getLogger("bot.runpod_client")


class RunPodSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNPOD_", env_file=".env", extra="ignore")

    base_url: str = "https://api.runpod.ai/v2"
    endpoint_id: str = Field(min_length=1)
    api_key: SecretStr | None = None

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_connections: int = 20
    max_attempts: int = Field(default=5, ge=1, description="tries per request on connection errors, 429 and 5xx")
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 20.0

    poll_initial_s: float = Field(default=1.0, gt=0)
    poll_max_s: float = Field(default=5.0, gt=0)
    poll_factor: float = Field(default=1.5, ge=1.0)
    image_deadline_s: float = 200.0
    video_deadline_s: float = 400.0


TERMINAL = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT})


class Policy(BaseModel):
    executionTimeout: int | None = Field(default=None, description="ms")
    ttl: int | None = Field(default=None, description="ms")
    lowPriority: bool | None = None


class S3Config(BaseModel):
    accessId: str
    accessSecret: SecretStr
    bucketName: str
    endpointUrl: str

    def wire(self) -> dict[str, str]:
        return {**self.model_dump(exclude={"accessSecret"}), "accessSecret": self.accessSecret.get_secret_value()}


class JobStatus(BaseModel):
    """A job as /run, /status, /cancel or /retry report it."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: JobState
    delayTime: int | None = None
    executionTime: int | None = None
    output: Any = None
    error: Any = None
    workerId: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _running_is_in_progress(cls, value: Any) -> Any:
        return JobState.IN_PROGRESS if value == "RUNNING" else value

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

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


class StreamChunk(BaseModel):
    model_config = ConfigDict(extra="allow")
    output: Any = None


class StreamResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: JobState
    stream: list[StreamChunk] = Field(default_factory=list)


class EndpointHealth(BaseModel):
    model_config = ConfigDict(extra="allow")
    jobs: dict[str, int]
    workers: dict[str, int]


class PurgeResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    removed: int
    status: str


class RunPodError(Exception):
    """Any failure talking to the endpoint."""


class RunPodHTTPError(RunPodError):
    """The endpoint answered with an error status (after retries, for 429 and 5xx)."""

    def __init__(self, status_code: int, message: str, path: str) -> None:
        super().__init__(f"HTTP {status_code} from {path}: {message}")
        self.status_code, self.message, self.path = status_code, message, path


class JobNotFound(RunPodHTTPError):
    """404: an unknown job id, or one whose result has expired (ttl or retention passed, or purged)."""


class RunPodUnavailable(RunPodError):
    """The endpoint could not be reached after every retry."""


ProgressHook = Callable[[JobStatus], Awaitable[None] | None]
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_SAFE_TRANSPORT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # never reached the server


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

    # ----- operations
    async def run(
        self,
        input: dict[str, Any],
        *,
        webhook: str | None = None,
        policy: Policy | None = None,
        s3_config: S3Config | None = None,
    ) -> JobStatus:
        body: dict[str, Any] = {"input": input}
        if webhook is not None:
            body["webhook"] = webhook
        if policy is not None:
            body["policy"] = policy.model_dump(exclude_none=True)
        if s3_config is not None:
            body["s3Config"] = s3_config.wire()
        # /run is not idempotent: after a request may have reached RunPod, a retry could start a second job.
        return JobStatus.model_validate(await self._call("POST", "/run", json=body, idempotent=False))

    async def runsync(self, input: dict[str, Any], *, wait_ms: int | None = None) -> JobStatus:
        params = {"wait": wait_ms} if wait_ms is not None else None
        data = await self._call("POST", "/runsync", json={"input": input}, params=params, idempotent=False)
        return JobStatus.model_validate(data)

    async def status(self, job_id: str) -> JobStatus:
        return JobStatus.model_validate(await self._call("GET", f"/status/{job_id}"))

    async def stream(self, job_id: str) -> StreamResult:
        return StreamResult.model_validate(await self._call("GET", f"/stream/{job_id}"))

    async def cancel(self, job_id: str) -> JobStatus:
        return JobStatus.model_validate(await self._call("POST", f"/cancel/{job_id}"))

    async def retry(self, job_id: str) -> JobStatus:
        return JobStatus.model_validate(await self._call("POST", f"/retry/{job_id}", idempotent=False))

    async def health(self) -> EndpointHealth:
        return EndpointHealth.model_validate(await self._call("GET", "/health"))

    async def purge_queue(self) -> PurgeResult:
        return PurgeResult.model_validate(await self._call("POST", "/purge-queue"))

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
    async def _call(self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any) -> Any:
        route = path.split("/")[1]
        s = self.settings
        for attempt in range(1, s.max_attempts + 1):
            self.requests_made[route] = self.requests_made.get(route, 0) + 1
            wait = min(s.backoff_cap_s, s.backoff_base_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)  # noqa: S311
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == s.max_attempts or not (idempotent or isinstance(exc, _SAFE_TRANSPORT)):
                    raise RunPodUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
                log.warning(
                    "runpod retry", extra={"fields": {"route": route, "attempt": attempt, "error": type(exc).__name__}}
                )
                await asyncio.sleep(wait)
                continue
            if response.status_code < 400:
                return response.json()
            message = _error_message(response)
            if response.status_code in _RETRY_STATUSES and attempt < s.max_attempts:
                hinted = retry_after_s(response)
                log.warning(
                    "runpod retry", extra={"fields": {"route": route, "attempt": attempt, "http": response.status_code}}
                )
                await asyncio.sleep(min(max(wait, hinted or 0.0), s.backoff_cap_s * 3))
                continue
            error = JobNotFound if response.status_code == 404 and path.count("/") > 1 else RunPodHTTPError
            raise error(response.status_code, message, f"{method} {path}")
        raise AssertionError("unreachable")
