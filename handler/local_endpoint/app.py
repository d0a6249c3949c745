"""HTTP routes of RunPod's queue API, ``/v2/{endpoint_id}/...``, over a :class:`LocalEndpoint`."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from handler.local_endpoint.core import LocalEndpoint, NotRetryable, PolicyError
from handler.local_endpoint.jobs import Job
from handler.local_endpoint.models import JobStatus, RunRequest
from handler.local_endpoint.ratelimit import RateLimits, caller_key
from handler.schema import nested_deeper_than


class ApiError(Exception):
    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code, self.message, self.headers = status_code, message, headers


def _endpoint(request: Request) -> LocalEndpoint:
    endpoint: LocalEndpoint = request.app.state.endpoint
    return endpoint


def _authorize(request: Request, endpoint_id: str) -> None:
    endpoint = _endpoint(request)
    if endpoint_id != endpoint.settings.endpoint_id:
        raise ApiError(404, f"endpoint {endpoint_id} not found")
    key = endpoint.settings.api_key
    if key is None:
        return
    given = request.headers.get("authorization", "")
    token = given[7:] if given[:7].lower() == "bearer " else given  # RunPod also takes the bare key
    if not hmac.compare_digest(token.encode(), key.get_secret_value().encode()):
        raise ApiError(401, "Unauthorized")


def _caller(request: Request) -> str:
    """Whom a rate limit counts: the client address. The endpoint has one API key, so a key tells callers apart
    no better (and without a configured key, a header the caller picks freely would let it dodge its limit)."""
    return caller_key(request.client.host) if request.client else ""


def _limited(request: Request, _: Annotated[None, Depends(_authorize)]) -> None:
    """RunPod's per-route rate limit per caller, after auth (the route is the path segment after the endpoint id)."""
    route = request.url.path.split("/")[3]
    retry_after = request.app.state.limits.acquire(route, _caller(request))
    if retry_after is not None:
        raise ApiError(429, f"rate limit exceeded on /{route}", headers={"Retry-After": str(math.ceil(retry_after))})


Authorized = Annotated[None, Depends(_limited)]


async def _run_request(request: Request, limit: int) -> RunRequest:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"payload of {declared} bytes exceeds the {limit} byte limit")
    body = bytearray()
    timeout_s = _endpoint(request).settings.body_timeout_s
    try:  # a whole-body deadline: a body trickled in (or shorter than its Content-Length) does not hold a request
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():  # counted while reading: no Content-Length is no exception
                body += chunk
                if len(body) > limit:
                    raise ApiError(413, f"payload exceeds the {limit} byte limit")
    except TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {timeout_s:g} s") from None
    try:
        return RunRequest.model_validate(_strict_json(bytes(body)))
    except BadJson as exc:
        raise ApiError(400, f"invalid request: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise ApiError(400, f"invalid request: {problems}") from None


class BadJson(ValueError):
    """A body that is not strict JSON."""


# Past pydantic's own JSON parser depth: nothing a job needs, and deep values cost recursion further on.
MAX_JSON_DEPTH = 200


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = [key for key, _ in pairs]
        raise BadJson(f"duplicate key {next(k for k in seen if seen.count(k) > 1)[:80]!r}")
    return obj


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson(f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise BadJson(f"{name} is not JSON")


def _strict_json(body: bytes) -> Any:
    """The body as RFC 8259 JSON: NaN, Infinity, numbers that overflow a double and duplicate keys (which a proxy
    in front and this endpoint could each read differently) are refused, and so is nesting past MAX_JSON_DEPTH."""
    try:
        value = json.loads(body, object_pairs_hook=_unique_keys, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadJson(str(exc)[:200] if isinstance(exc, BadJson) else f"not JSON ({str(exc)[:200]})") from None
    if nested_deeper_than(value, MAX_JSON_DEPTH):
        raise BadJson(f"nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def _submit(request: Request, run: RunRequest, *, sync: bool) -> Job:
    try:
        return _endpoint(request).submit(run, sync=sync)
    except PolicyError as exc:
        raise ApiError(400, str(exc)) from None


def _brief(job: Job) -> dict[str, Any]:
    """What /run and /cancel answer: the job's id and state."""
    return JobStatus(id=job.id, status=job.status).model_dump(mode="json", exclude_none=True)


def _job(request: Request, job_id: str) -> Job:
    job = _endpoint(request).get(job_id)
    if job is None:
        raise ApiError(404, f"job {job_id} not found")
    return job


router = APIRouter(prefix="/v2/{endpoint_id}")


@router.post("/run")
async def run(request: Request, _: Authorized) -> dict[str, Any]:
    job = _submit(request, await _run_request(request, _endpoint(request).settings.max_run_bytes), sync=False)
    return _brief(job)


@router.post("/runsync")
async def runsync(
    request: Request, _: Authorized, wait: Annotated[int | None, Query(ge=0, le=2**53)] = None
) -> dict[str, Any]:
    s = _endpoint(request).settings
    job = _submit(request, await _run_request(request, s.max_runsync_bytes), sync=True)
    wait_ms = min(max(wait or s.runsync_default_wait_ms, s.runsync_min_wait_ms), s.runsync_max_wait_ms)
    # Past the wait RunPod answers with the job's current state; the caller polls /status from there.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(job.finished.wait(), wait_ms / 1000)
    return job.body()


@router.get("/status/{job_id}")
async def status(
    request: Request, job_id: str, _: Authorized, ttl: Annotated[int | None, Query(gt=0, le=2**53)] = None
) -> dict[str, Any]:
    job = _job(request, job_id)
    if ttl is not None:
        try:
            _endpoint(request).set_retention(job, ttl)
        except PolicyError as exc:
            raise ApiError(400, str(exc)) from None
    return job.body()


@router.get("/stream/{job_id}")
async def stream(request: Request, job_id: str, _: Authorized) -> dict[str, Any]:
    job = _job(request, job_id)
    items, job.stream = job.stream, []
    return {"id": job.id, "status": job.status.value, "stream": items}


@router.post("/cancel/{job_id}")
async def cancel(request: Request, job_id: str, _: Authorized) -> dict[str, Any]:
    job = _job(request, job_id)
    _endpoint(request).cancel(job)
    return _brief(job)


@router.post("/retry/{job_id}")
async def retry(request: Request, job_id: str, _: Authorized) -> dict[str, Any]:
    job = _job(request, job_id)
    try:
        _endpoint(request).retry(job)
    except NotRetryable as exc:
        raise ApiError(400, str(exc)) from None
    return {"id": job.id, "status": job.status.value}


@router.post("/purge-queue")
async def purge_queue(request: Request, _: Authorized) -> dict[str, Any]:
    return {"removed": _endpoint(request).purge_queue(), "status": "completed"}


@router.get("/health")
async def health(request: Request, _: Authorized) -> dict[str, Any]:
    return _endpoint(request).health().model_dump()


def create_app(endpoint: LocalEndpoint) -> FastAPI:
    """The ASGI app; its lifespan starts the worker processes and stops them on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await endpoint.start()
        try:
            yield
        finally:
            await endpoint.close()

    app = FastAPI(title="Local RunPod endpoint", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.endpoint = endpoint
    s = endpoint.settings
    app.state.limits = RateLimits(s.rate_limits, s.rate_window_s, s.rate_max_callers)
    app.include_router(router)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_query(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    return app
