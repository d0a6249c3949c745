"""Several worker processes: jobs run side by side, one per process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.runpod_client import JobState, RunPodClient, RunPodSettings
from handler.local_endpoint import EndpointServer
from handler.settings import WorkerSettings
from tests.endpoint.conftest import endpoint_worker_settings, fast_endpoint_settings
from tests.endpoint.support import long_job, until


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, worker_settings: WorkerSettings) -> Iterator[EndpointServer]:
    settings = fast_endpoint_settings(workers=2)
    server = EndpointServer(settings, endpoint_worker_settings(worker_settings, tmp_path_factory.mktemp("two")))
    server.start_in_thread()
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
async def two_client(two_workers: EndpointServer) -> AsyncIterator[RunPodClient]:
    settings = RunPodSettings(base_url=two_workers.url, endpoint_id="local", poll_initial_s=0.05)  # type: ignore[arg-type]
    async with RunPodClient(settings) as client:
        yield client


@pytest.mark.slow
async def test_two_processes_run_two_jobs_at_once(two_client: RunPodClient) -> None:
    first, second = await two_client.run(long_job()), await two_client.run(long_job())

    running = [await until(two_client, job.id, JobState.IN_PROGRESS) for job in (first, second)]

    assert [status.status for status in running] == [JobState.IN_PROGRESS] * 2
    assert running[0].workerId != running[1].workerId
    health = await two_client.health()
    assert health.workers.running == 2 and health.jobs.inProgress == 2
    for job in (first, second):
        await two_client.cancel(job.id)
