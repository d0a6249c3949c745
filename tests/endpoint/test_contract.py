"""The API contract the bot relies on, through the real client over real HTTP.

Runs against the local endpoint always, and against a RunPod endpoint too when RUNPOD_CONTRACT_ENDPOINT_ID and
RUNPOD_API_KEY are set (that endpoint must run this worker).
"""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from bot.runpod_client import JobNotFound, JobState, RunPodClient, RunPodHTTPError
from tests.endpoint.support import blank_job
from workflows.contract import ErrorCode, OutputKind


async def test_run_then_wait_gives_the_image(client: RunPodClient) -> None:
    submitted = await client.run(blank_job(size=96))
    assert submitted.status in (JobState.IN_QUEUE, JobState.IN_PROGRESS)

    final = await client.wait(submitted.id, deadline_s=120)

    assert final.status is JobState.COMPLETED
    assert final.delayTime is not None and final.delayTime >= 0
    assert final.executionTime is not None and final.executionTime >= 0
    output = final.job_output()
    assert output is not None and final.error_info() is None
    [item] = output.outputs
    assert item.kind is OutputKind.IMAGE and item.content_type == "image/png"
    assert item.data is not None
    assert Image.open(io.BytesIO(base64.b64decode(item.data))).size == (96, 96)


async def test_runsync_answers_with_the_result(client: RunPodClient) -> None:
    final = await client.runsync(blank_job(), wait_ms=60_000)

    assert final.id.startswith("sync-")
    assert final.status is JobState.COMPLETED
    output = final.job_output()
    assert output is not None and len(output.outputs) == 1


async def test_an_invalid_workflow_fails_with_its_code(client: RunPodClient) -> None:
    job = await client.run({"workflow": {"1": {"class_type": "NoSuchNode", "inputs": {}}}})

    final = await client.wait(job.id, deadline_s=60)

    assert final.status is JobState.FAILED
    info = final.error_info()
    assert info is not None and info.code is ErrorCode.WORKFLOW_INVALID and not info.retryable
    assert "NoSuchNode" in info.message


async def test_input_the_worker_rejects_is_invalid_input(client: RunPodClient) -> None:
    final = await client.wait((await client.run({"preset": "x", "workflow": {}})).id, deadline_s=60)

    info = final.error_info()
    assert final.status is JobState.FAILED and info is not None and info.code is ErrorCode.INVALID_INPUT


async def test_unknown_job_is_not_found(client: RunPodClient) -> None:
    for call in (client.status, client.cancel, client.stream):
        with pytest.raises(JobNotFound):
            await call("00000000-0000-0000-0000-000000000000")


async def test_a_body_without_input_is_refused_at_once(client: RunPodClient) -> None:
    with pytest.raises(RunPodHTTPError) as caught:
        await client._submit("/run", json={"inputs": {}})
    assert caught.value.status_code == 400
    assert client.requests_made["run"] == 1  # a 4xx is never retried


async def test_stream_hands_out_the_final_output(client: RunPodClient) -> None:
    job = await client.run(blank_job())
    await client.wait(job.id, deadline_s=60)

    streamed = await client.stream(job.id)

    assert streamed.status is JobState.COMPLETED
    assert any(isinstance(chunk.output, dict) and "outputs" in chunk.output for chunk in streamed.stream)


async def test_health_reports_workers_and_finished_jobs(client: RunPodClient) -> None:
    before = await client.health()
    await client.wait((await client.run(blank_job())).id, deadline_s=60)

    after = await client.health()

    assert after.jobs.completed >= before.jobs.completed + 1
    assert after.workers.idle + after.workers.running >= 1
