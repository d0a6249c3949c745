"""What the tracker needs from an endpoint client (``bot.runpod_client.RunPodClient`` satisfies it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from workflows.contract import ErrorInfo, JobOutput

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})


class EndpointStatus(Protocol):
    """A job's status as /run and /status report it."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> Any: ...  # JobState, a str enum: IN_QUEUE, IN_PROGRESS, COMPLETED, ...

    @property
    def output(self) -> Any: ...

    @property
    def is_terminal(self) -> bool: ...

    def job_output(self) -> JobOutput | None: ...

    def error_info(self) -> ErrorInfo | None: ...


class Endpoint(Protocol):
    async def run(
        self,
        input: dict[str, Any],
        *,
        webhook: str | None = None,
        policy: dict[str, Any] | None = None,
        s3_config: dict[str, Any] | None = None,
    ) -> Any: ...

    async def status(self, job_id: str) -> Any: ...

    async def cancel(self, job_id: str) -> Any: ...

    async def aclose(self) -> None: ...


ProgressCallback = Callable[[EndpointStatus], Awaitable[None]]


def state_name(status: EndpointStatus) -> str:
    """The state as a plain string (RunPod also reports RUNNING for IN_PROGRESS)."""
    value = getattr(status.status, "value", status.status)
    name = str(value)
    return "IN_PROGRESS" if name == "RUNNING" else name


def progress_percent(status: EndpointStatus) -> float | None:
    """The worker's progress (``output`` while IN_PROGRESS: {"percent": ..., ...}), when it reports any."""
    output = status.output
    if isinstance(output, dict) and isinstance(output.get("percent"), int | float):
        return max(0.0, min(100.0, float(output["percent"])))
    return None
