"""One job's record on the endpoint and the status body RunPod reports for it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from handler.local_endpoint.models import JobState, JobStatus, RunRequest


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass(eq=False)
class Job:
    id: str
    request: RunRequest
    sync: bool
    execution_timeout_s: float
    ttl_s: float
    retain_s: float  # how long a finished job stays readable
    submitted_at: float = field(default_factory=time.monotonic)
    status: JobState = JobState.IN_QUEUE
    started_at: float | None = None
    finished_at: float | None = None
    output: Any = None
    error: Any = None
    progress: Any = None
    stream: list[Any] = field(default_factory=list)  # items /stream has not handed out yet
    retries: int = 0
    worker_id: str | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    timeout_handle: asyncio.TimerHandle | None = None
    input_dropped: bool = False

    @property
    def expires_at(self) -> float:
        """When the record disappears: its ttl while pending, its retention once finished."""
        if self.finished_at is None:
            return self.submitted_at + self.ttl_s
        return self.finished_at + self.retain_s

    def job_message(self) -> dict[str, Any]:
        """What the worker's handler receives, as RunPod passes it."""
        message: dict[str, Any] = {"id": self.id, "input": self.request.input}
        if self.request.s3Config is not None:
            message["s3Config"] = self.request.s3Config.wire()
        return message

    def drop_input(self) -> None:
        """Forget the input and the request's storage keys once a worker holds them (they can be large, and
        ``s3Config`` carries secrets); the status, webhook and policy stay."""
        self.request = self.request.model_copy(update={"input": {}, "s3Config": None})
        self.input_dropped = True

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "status": self.status.value}
        if self.started_at is not None:
            body["delayTime"] = _ms(self.started_at - self.submitted_at)
            body["workerId"] = self.worker_id
        if self.finished_at is not None and self.started_at is not None:
            body["executionTime"] = _ms(self.finished_at - self.started_at)
        if self.status is JobState.IN_PROGRESS and self.progress is not None:
            body["output"] = self.progress
        elif self.output is not None:
            body["output"] = self.output
        if self.error is not None:
            body["error"] = self.error
        if self.retries:
            body["retries"] = self.retries
        return JobStatus.model_validate(body).model_dump(mode="json", exclude_none=True)  # the shared wire model

    def start(self, worker_id: str) -> None:
        self.status, self.started_at, self.worker_id = JobState.IN_PROGRESS, time.monotonic(), worker_id

    def finish(self, status: JobState, *, output: Any = None, error: Any = None) -> None:
        self.status, self.finished_at, self.output, self.error = status, time.monotonic(), output, error
        if output is not None:
            self.stream.append({"output": output})
        if self.timeout_handle is not None:
            self.timeout_handle.cancel()
            self.timeout_handle = None
        self.finished.set()

    def requeue(self) -> None:
        """/retry: the same id and input, waiting again from now."""
        self.status, self.submitted_at, self.retries = JobState.IN_QUEUE, time.monotonic(), self.retries + 1
        self.started_at = self.finished_at = None
        self.output = self.error = self.progress = self.worker_id = None
        self.stream.clear()
        self.finished = asyncio.Event()
