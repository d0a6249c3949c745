"""Queue semantics only the local endpoint can show on demand: cancel, timeouts, ttl, retention, purge, retry.

One worker process serves these tests, so a long job holds it busy while others wait IN_QUEUE.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.runpod_client import JobNotFound, JobState, Policy, RunPodClient, RunPodHTTPError
from handler.local_endpoint import EndpointServer
from tests.endpoint.support import blank_job, long_job, occupy_worker, until
from workflows.contract import ErrorCode


async def test_cancel_a_queued_job_and_a_running_one(local_client: RunPodClient) -> None:
    running = await occupy_worker(local_client)
    queued = await local_client.run(blank_job())
    assert (await local_client.status(queued.id)).status is JobState.IN_QUEUE

    assert (await local_client.cancel(queued.id)).status is JobState.CANCELLED
    assert (await local_client.cancel(running)).status is JobState.CANCELLED

    cancelled = await local_client.status(running)
    info = cancelled.error_info()
    assert cancelled.status is JobState.CANCELLED and info is not None and info.code is ErrorCode.CANCELLED
    # the worker stopped the running job and takes the next one; the queued job never ran
    after = await local_client.wait((await local_client.run(blank_job())).id, deadline_s=60)
    assert after.status is JobState.COMPLETED
    assert (await local_client.status(queued.id)).status is JobState.CANCELLED


async def test_execution_timeout_ends_the_job_timed_out(local_client: RunPodClient) -> None:
    job = await local_client.run(long_job(), policy=Policy(executionTimeout=1500))

    final = await local_client.wait(job.id, deadline_s=60)

    assert final.status is JobState.TIMED_OUT
    info = final.error_info()
    assert info is not None and info.code is ErrorCode.TIMEOUT and info.retryable
    assert (await local_client.wait((await local_client.run(blank_job())).id, deadline_s=60)).is_terminal


async def test_ttl_removes_a_job_that_waited_too_long(local_client: RunPodClient) -> None:
    blocker = await occupy_worker(local_client)
    job = await local_client.run(blank_job(), policy=Policy(ttl=300))
    assert (await local_client.status(job.id)).status is JobState.IN_QUEUE

    await asyncio.sleep(0.8)

    with pytest.raises(JobNotFound):
        await local_client.status(job.id)
    await local_client.cancel(blocker)


async def test_results_are_kept_for_the_retention_time_then_gone(
    local_client: RunPodClient, local_endpoint: EndpointServer
) -> None:
    job = await local_client.run(blank_job())
    assert (await local_client.wait(job.id, deadline_s=60)).status is JobState.COMPLETED
    url = f"{local_endpoint.url}/local/status/{job.id}"
    async with httpx.AsyncClient() as http:
        kept = await http.get(url, params={"ttl": 400})  # RunPod's per-job retention override
        assert kept.status_code == 200 and kept.json()["status"] == "COMPLETED"
        await asyncio.sleep(0.8)
        gone = await http.get(url)
    assert gone.status_code == 404


async def test_purge_queue_drops_waiting_jobs_only(local_client: RunPodClient) -> None:
    blocker = await occupy_worker(local_client)
    waiting = [await local_client.run(blank_job()) for _ in range(3)]

    purged = await local_client.purge_queue()

    assert purged.removed == 3
    for job in waiting:
        with pytest.raises(JobNotFound):
            await local_client.status(job.id)
    assert (await local_client.status(blocker)).status is JobState.IN_PROGRESS
    await local_client.cancel(blocker)


async def test_retry_runs_a_failed_job_again_under_its_id(local_client: RunPodClient) -> None:
    job = await local_client.run({"workflow": {"1": {"class_type": "NoSuchNode", "inputs": {}}}})
    assert (await local_client.wait(job.id, deadline_s=60)).status is JobState.FAILED

    retried = await local_client.retry(job.id)

    assert retried.id == job.id and retried.status is JobState.IN_QUEUE
    again = await local_client.wait(job.id, deadline_s=60)
    assert again.status is JobState.FAILED and again.model_extra and again.model_extra.get("retries") == 1
    completed = await local_client.wait((await local_client.run(blank_job())).id, deadline_s=60)
    with pytest.raises(RunPodHTTPError) as caught:
        await local_client.retry(completed.id)
    assert caught.value.status_code == 400


async def test_client_deadline_cancels_the_job(local_client: RunPodClient) -> None:
    job = await local_client.run(long_job())
    seen: list[JobState] = []

    final = await local_client.wait(job.id, deadline_s=1.0, on_progress=lambda s: seen.append(s.status))

    assert final.status is JobState.TIMED_OUT
    info = final.error_info()
    assert info is not None and info.code is ErrorCode.TIMEOUT and info.details["cancelled_by"] == "client"
    assert seen  # it reported the job's state while waiting
    assert (await local_client.status(job.id)).status is JobState.CANCELLED


async def test_low_priority_jobs_wait_for_normal_ones(local_client: RunPodClient) -> None:
    blocker = await occupy_worker(local_client)
    low = await local_client.run(long_job(), policy=Policy(lowPriority=True))
    normal = await local_client.run(long_job())

    await local_client.cancel(blocker)
    started = await until(local_client, normal.id, JobState.IN_PROGRESS)

    assert started.status is JobState.IN_PROGRESS
    assert (await local_client.status(low.id)).status is JobState.IN_QUEUE
    for job in (normal, low):
        await local_client.cancel(job.id)
