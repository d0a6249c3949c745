"""Webhooks, a worker process dying mid-job, auth and payload limits."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import httpx
import pytest

from bot.runpod_client import JobState, RunPodClient, RunPodHTTPError, RunPodSettings
from handler.local_endpoint import EndpointServer
from handler.settings import WorkerSettings
from tests.endpoint.conftest import endpoint_worker_settings, fast_endpoint_settings
from tests.endpoint.support import WebhookReceiver, blank_job, long_job, occupy_worker, until
from workflows.contract import ErrorCode


@pytest.fixture
def receiver_factory() -> Iterator[type[WebhookReceiver]]:
    made: list[WebhookReceiver] = []

    class Tracked(WebhookReceiver):
        def __init__(self, codes: list[int]) -> None:
            super().__init__(codes)
            made.append(self)

    yield Tracked
    for receiver in made:
        receiver.close()


async def test_webhook_is_retried_until_it_answers_200(
    local_client: RunPodClient, receiver_factory: type[WebhookReceiver]
) -> None:
    receiver = receiver_factory([500, 503, 200])

    job = await local_client.run(blank_job(), webhook=receiver.url)
    await receiver.wait_for(3)

    assert [body["id"] for body in receiver.bodies] == [job.id] * 3
    assert receiver.bodies[-1]["status"] == "COMPLETED"
    assert receiver.bodies[-1]["output"]["outputs"][0]["kind"] == "image"


async def test_webhook_gives_up_after_three_attempts(
    local_client: RunPodClient, receiver_factory: type[WebhookReceiver]
) -> None:
    receiver = receiver_factory([500])
    failing = await local_client.run(
        {"workflow": {"1": {"class_type": "NoSuchNode", "inputs": {}}}}, webhook=receiver.url
    )
    await receiver.wait_for(3)
    # a later job's webhook arriving proves the endpoint stopped trying the first one at three
    other = receiver_factory([200])
    await local_client.run(blank_job(), webhook=other.url)
    await other.wait_for(1)

    assert len(receiver.bodies) == 3
    assert {body["status"] for body in receiver.bodies} == {"FAILED"}
    assert receiver.bodies[0]["id"] == failing.id


@pytest.mark.slow
async def test_a_killed_worker_process_fails_its_job_and_is_replaced(
    local_client: RunPodClient, local_endpoint: EndpointServer
) -> None:
    job_id = await occupy_worker(local_client)
    [slot] = local_endpoint.endpoint.slots
    victim = slot.pid
    assert victim is not None

    os.kill(victim, signal.SIGKILL)
    final = await until(local_client, job_id, JobState.FAILED)

    info = final.error_info()
    assert final.status is JobState.FAILED and info is not None and info.code is ErrorCode.INTERNAL and info.retryable
    after = await local_client.wait((await local_client.run(blank_job())).id, deadline_s=120)
    assert after.status is JobState.COMPLETED
    assert slot.pid != victim


@pytest.fixture(scope="module")
def keyed_endpoint(
    tmp_path_factory: pytest.TempPathFactory, worker_settings: WorkerSettings
) -> Iterator[EndpointServer]:
    """A second endpoint with an API key and no workers (scaled to zero): jobs only queue."""
    settings = fast_endpoint_settings(api_key="local-test-key", max_run_bytes=4096, max_runsync_bytes=8192, workers=0)
    server = EndpointServer(settings, endpoint_worker_settings(worker_settings, tmp_path_factory.mktemp("keyed")))
    yield server.start_in_thread()
    server.stop()


async def test_api_key_is_required_when_configured(keyed_endpoint: EndpointServer) -> None:
    base = f"{keyed_endpoint.url}/local"
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{base}/health")).status_code == 401
        wrong = await http.get(f"{base}/health", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await http.get(f"{base}/health", headers={"Authorization": "Bearer local-test-key"})
        assert right.status_code == 200 and "workers" in right.json()
    settings = RunPodSettings(base_url=keyed_endpoint.url, endpoint_id="local", api_key="nope")  # type: ignore[arg-type]
    async with RunPodClient(settings) as client:
        with pytest.raises(RunPodHTTPError) as caught:
            await client.run(blank_job())
    assert caught.value.status_code == 401 and client.requests_made["run"] == 1


async def test_payload_limits_per_route(keyed_endpoint: EndpointServer) -> None:
    settings = RunPodSettings(
        base_url=keyed_endpoint.url,
        endpoint_id="local",
        api_key="local-test-key",  # type: ignore[arg-type]
    )
    padded = {**blank_job(), "padding": "x" * 6000}
    async with RunPodClient(settings) as client:
        with pytest.raises(RunPodHTTPError) as too_big:
            await client.run(padded)
        accepted = await client.runsync(padded, wait_ms=1000)  # /runsync allows twice as much
    assert too_big.value.status_code == 413 and "limit" in too_big.value.message
    assert accepted.id.startswith("sync-") and accepted.status is JobState.IN_QUEUE  # no worker: it waits


async def test_wrong_endpoint_id_is_not_found(local_endpoint: EndpointServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{local_endpoint.url}/other/run", json={"input": blank_job()})
    assert response.status_code == 404 and "error" in response.json()


@pytest.fixture(scope="module")
def limited_endpoint(
    tmp_path_factory: pytest.TempPathFactory, worker_settings: WorkerSettings
) -> Iterator[EndpointServer]:
    """RunPod's purge-queue limit (2 per window) with the window shortened to a second; no workers needed."""
    settings = fast_endpoint_settings(rate_window_s=1.0, workers=0)
    server = EndpointServer(settings, endpoint_worker_settings(worker_settings, tmp_path_factory.mktemp("limited")))
    yield server.start_in_thread()
    server.stop()


async def test_rate_limit_answers_429_and_the_client_waits_it_out(limited_endpoint: EndpointServer) -> None:
    base = f"{limited_endpoint.url}/local"
    async with httpx.AsyncClient() as http:
        answers = [await http.post(f"{base}/purge-queue") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 0 < int(answers[2].headers["retry-after"]) <= 1

    settings = RunPodSettings(base_url=limited_endpoint.url, endpoint_id="local", backoff_base_s=0.01)  # type: ignore[arg-type]
    async with RunPodClient(settings) as client:
        results = [await client.purge_queue() for _ in range(3)]
    assert [r.status for r in results] == ["completed"] * 3
    assert client.requests_made["purge-queue"] > 3  # at least one 429 was retried after its Retry-After


@pytest.mark.slow
async def test_a_job_that_ignores_cancel_loses_its_process_not_the_endpoint(
    local_client: RunPodClient, local_endpoint: EndpointServer
) -> None:
    # One 4096 px blur of the largest radius: a single node with no interrupt point, running well past the 2 s
    # grace of the tests even on an idle machine (about 10 s there, much longer under load).
    job = await local_client.run(long_job(nodes=1, size=4096, radius=31))
    assert (await until(local_client, job.id, JobState.IN_PROGRESS)).status is JobState.IN_PROGRESS
    [slot] = local_endpoint.endpoint.slots
    stubborn = slot.pid
    await asyncio.sleep(3)  # inside the blur by now

    assert (await local_client.cancel(job.id)).status is JobState.CANCELLED

    after = await local_client.wait((await local_client.run(blank_job())).id, deadline_s=120)
    assert after.status is JobState.COMPLETED
    assert slot.pid != stubborn
    assert (await local_client.status(job.id)).status is JobState.CANCELLED
