"""A scripted stand-in for RunPod's cloud queue API (``/v2/{endpoint}/run|status|cancel``) on 127.0.0.1.

RunPod's cloud cannot exist here, and the real worker cannot be made to run out of GPU memory on demand, so
tests script what each submitted job reports. The HTTP surface (paths, bodies, Bearer auth, 404 for unknown
ids) is the one RunPod documents; each GET /status advances the job one scripted step.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from workflows.contract import RETRYABLE, USER_MESSAGES, ErrorCode

Step = dict[str, Any]  # {"status": ..., "output": ..., "error": ...}
Script = Callable[[dict[str, Any]], list[Step]]

HOLD = {"status": "IN_PROGRESS", "output": {"percent": 50.0}, "hold": True}  # stays until cancelled


def queued() -> Step:
    return {"status": "IN_QUEUE"}


def running(percent: float) -> Step:
    return {"status": "IN_PROGRESS", "output": {"node": "3", "node_type": "KSampler", "percent": percent}}


def completed_image(data_b64: str = "", size: int = 68) -> Step:
    item = {
        "node_id": "9",
        "kind": "image",
        "filename": "out.png",
        "content_type": "image/png",
        "size": size,
        "data": data_b64 or PNG_B64,
    }
    return {"status": "COMPLETED", "output": {"outputs": [item], "timings": {}, "preset": "sdxl"}}


def completed_video(size: int, url: str | None = None, data_b64: str | None = None) -> Step:
    item = {
        "node_id": "9",
        "kind": "video",
        "filename": "out.mp4",
        "content_type": "video/mp4",
        "size": size,
        "url": url,
        "data": data_b64,
    }
    return {"status": "COMPLETED", "output": {"outputs": [item], "timings": {}, "preset": "liveportrait"}}


def failed(code: ErrorCode) -> Step:
    info = {"code": code.value, "message": USER_MESSAGES[code], "retryable": RETRYABLE[code], "details": {}}
    return {"status": "FAILED", "error": json.dumps(info)}


# A 1x1 PNG.
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@dataclass
class FakeJob:
    id: str
    body: dict[str, Any]
    steps: list[Step]
    current: Step = field(default_factory=queued)

    def advance(self) -> Step:
        if self.current.get("status") in ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT") or self.current.get("hold"):
            return self.current
        if self.steps:
            self.current = self.steps.pop(0)
        return self.current

    def response(self) -> dict[str, Any]:
        body = {"id": self.id, "status": self.current["status"], "delayTime": 10, "executionTime": 20}
        for key in ("output", "error"):
            if key in self.current:
                body[key] = self.current[key]
        return body


class FakeRunPod:
    def __init__(self, api_key: str = "test-key", endpoint_id: str = "ep") -> None:
        self.api_key = api_key
        self.endpoint_id = endpoint_id
        self.jobs: dict[str, FakeJob] = {}
        self.runs: list[dict[str, Any]] = []
        self.cancels: list[str] = []
        self.script: Script = lambda _input: [queued(), running(40.0), completed_image()]
        self.fail_runs = 0  # answer the next N /run calls with HTTP 500 (no job created)
        self.throttle_runs = 0  # answer the next N /run calls with HTTP 429 (rate limited: surely no job)
        self.lose_run_answers = 0  # create the next N jobs but answer 502 (a lost answer: the job exists)
        self.run_delay_s = 0.0  # create the job at once, answer after this long (a crash can land in between)
        self.by_request: dict[str, list[FakeJob]] = {}  # every job ever created, per request (its input)
        self.duplicate_runs: list[str] = []  # requests sent again while an earlier run of theirs was live or done
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/v2/{ep}/run", self._run, methods=["POST"]),
                Route("/v2/{ep}/status/{job_id}", self._status, methods=["GET"]),
                Route("/v2/{ep}/cancel/{job_id}", self._cancel, methods=["POST"]),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2"

    def _denied(self, request: Request) -> JSONResponse | None:
        if request.path_params["ep"] != self.endpoint_id:
            return JSONResponse({"error": "endpoint not found"}, status_code=404)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        return None

    async def _run(self, request: Request) -> JSONResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        if self.fail_runs > 0:
            self.fail_runs -= 1
            return JSONResponse({"error": "internal"}, status_code=500)
        if self.throttle_runs > 0:
            self.throttle_runs -= 1
            return JSONResponse({"error": "rate limit exceeded"}, status_code=429, headers={"Retry-After": "0"})
        body = await request.json()
        self.runs.append(body)
        job = FakeJob(id=f"rp-{uuid.uuid4().hex[:10]}", body=body, steps=list(self.script(body["input"])))
        self._count(job)
        self.jobs[job.id] = job
        if self.lose_run_answers > 0:
            self.lose_run_answers -= 1
            return JSONResponse({"error": "upstream timed out"}, status_code=502)
        if self.run_delay_s:
            await asyncio.sleep(self.run_delay_s)
        return JSONResponse({"id": job.id, "status": "IN_QUEUE"})

    def _count(self, job: FakeJob) -> None:
        """A paid request runs at most once on the 'GPU': a new /run of the same input is legitimate only after
        every earlier run of it failed (the bot resubmits a retryable failure) or was forgotten by RunPod."""
        key = json.dumps(job.body["input"], sort_keys=True)
        earlier = self.by_request.setdefault(key, [])
        if any(prior.current.get("status") not in ("FAILED", "TIMED_OUT", "FORGOTTEN") for prior in earlier):
            self.duplicate_runs.append(key)
        earlier.append(job)

    def forget(self, job_id: str) -> None:
        """RunPod dropping a job (ttl passed, queue purged): /status answers 404 from now on."""
        job = self.jobs.pop(job_id)
        job.current = {"status": "FORGOTTEN"}

    async def _status(self, request: Request) -> JSONResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            return JSONResponse({"error": "job not found"}, status_code=404)
        job.advance()
        return JSONResponse(job.response())

    async def _cancel(self, request: Request) -> JSONResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            return JSONResponse({"error": "job not found"}, status_code=404)
        self.cancels.append(job.id)
        if job.current["status"] in ("IN_QUEUE", "IN_PROGRESS"):
            job.current = {"status": "CANCELLED"}
        return JSONResponse({"id": job.id, "status": job.current["status"]})

    def finish_held(self, step: Step) -> None:
        """Let every held job move on to ``step``."""
        for job in self.jobs.values():
            if job.current.get("hold"):
                job.current = step
            job.steps = [step if pending.get("hold") else pending for pending in job.steps]


@asynccontextmanager
async def serve_fake_runpod(fake: FakeRunPod) -> AsyncIterator[FakeRunPod]:
    server = uvicorn.Server(
        uvicorn.Config(fake.app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    fake.port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
