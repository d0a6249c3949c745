"""The client's behaviour on RunPod's failure answers (429, 5xx, 4xx, no server).

RunPod's rate limiter and outages cannot exist here, so these answers come from httpx's MockTransport at the
HTTP boundary; everything above the transport is the real client.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from bot.runpod_client import (
    JobNotFound,
    JobState,
    JobStatus,
    RunPodClient,
    RunPodHTTPError,
    RunPodSettings,
    RunPodUnavailable,
    SubmitUncertain,
)
from workflows.contract import ErrorCode


def _settings(**overrides: object) -> RunPodSettings:
    base = {"endpoint_id": "ep", "backoff_base_s": 0.001, "backoff_cap_s": 0.01, "max_attempts": 4}
    return RunPodSettings(**{**base, **overrides})  # type: ignore[arg-type]


def _scripted(*responses: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return httpx.MockTransport(answer), seen


async def test_429_and_503_are_retried_until_success() -> None:
    transport, seen = _scripted(
        httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow down"}),
        httpx.Response(503, text="unavailable"),
        httpx.Response(200, json={"id": "j1", "status": "IN_PROGRESS"}),
    )
    async with RunPodClient(_settings(), transport=transport) as client:
        status = await client.status("j1")
    assert status.status is JobState.IN_PROGRESS
    assert len(seen) == 3


async def test_4xx_is_not_retried_and_carries_the_message() -> None:
    transport, seen = _scripted(httpx.Response(400, json={"error": "invalid request: input: Field required"}))
    async with RunPodClient(_settings(), transport=transport) as client:
        with pytest.raises(RunPodHTTPError) as caught:
            await client.run({})
    assert caught.value.status_code == 400
    assert "input: Field required" in caught.value.message
    assert len(seen) == 1


async def test_unknown_job_is_job_not_found() -> None:
    transport, _ = _scripted(httpx.Response(404, json={"error": "job x not found"}))
    async with RunPodClient(_settings(), transport=transport) as client:
        with pytest.raises(JobNotFound):
            await client.status("x")


async def test_persistent_5xx_gives_up_after_max_attempts() -> None:
    transport, seen = _scripted(httpx.Response(502, text="bad gateway"))
    async with RunPodClient(_settings(max_attempts=3), transport=transport) as client:
        with pytest.raises(RunPodHTTPError) as caught:
            await client.health()
    assert caught.value.status_code == 502
    assert len(seen) == 3


async def test_no_server_is_unavailable_and_run_is_sent_once() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = _settings(base_url=f"http://127.0.0.1:{port}/v2", max_attempts=2)
    async with RunPodClient(settings) as client:
        with pytest.raises(RunPodUnavailable):
            await client.run({"workflow": {}})
        assert client.requests_made["run"] == 1  # /run is never retried, even when it surely never left
        with pytest.raises(RunPodUnavailable):
            await client.status("j")
        assert client.requests_made["status"] == 2  # an idempotent call is


async def test_api_key_is_sent_as_bearer_and_never_shown() -> None:
    transport, seen = _scripted(httpx.Response(200, json={"id": "j", "status": "IN_QUEUE"}))
    settings = _settings(api_key="rp_secret_123")
    async with RunPodClient(settings, transport=transport) as client:
        await client.run({"preset": "sdxl"})
    assert seen[0].headers["authorization"] == "Bearer rp_secret_123"
    assert "rp_secret_123" not in repr(settings) and "rp_secret_123" not in str(settings.model_dump())


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(500, text="internal"), httpx.Response(502, text="bad gateway"), httpx.Response(200, json={})],
)
async def test_run_that_may_have_arrived_is_uncertain_and_never_resent(answer: httpx.Response) -> None:
    transport, seen = _scripted(answer)
    async with RunPodClient(_settings(), transport=transport) as client:
        with pytest.raises(SubmitUncertain):
            await client.run({"preset": "sdxl"})
    assert len(seen) == 1


async def test_run_without_an_answer_is_uncertain_and_never_resent() -> None:
    seen: list[httpx.Request] = []

    def no_answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    async with RunPodClient(_settings(), transport=httpx.MockTransport(no_answer)) as client:
        with pytest.raises(SubmitUncertain):
            await client.run({"preset": "sdxl"})
        with pytest.raises(RunPodUnavailable):
            await client.cancel("j")  # idempotent: retried, then given up
    assert [r.url.path.split("/")[-2 if "cancel" in r.url.path else -1] for r in seen] == ["run"] + ["cancel"] * 4


def test_status_reading_helpers() -> None:
    timed_out = JobStatus.model_validate({"id": "j", "status": "TIMED_OUT"})
    assert timed_out.is_terminal and timed_out.job_output() is None
    info = timed_out.error_info()
    assert info is not None and info.code is ErrorCode.TIMEOUT and info.retryable
    crashed = JobStatus.model_validate({"id": "j", "status": "FAILED", "error": "Traceback ... boom"})
    crash_info = crashed.error_info()
    assert crash_info is not None and crash_info.code is ErrorCode.INTERNAL
    running = JobStatus.model_validate({"id": "j", "status": "RUNNING", "output": {"percent": 40.0}})
    assert running.status is JobState.IN_PROGRESS and not running.is_terminal
    progress = running.progress()
    assert progress is not None and progress.percent == 40.0
