"""A real local endpoint (real worker processes, real HTTP on 127.0.0.1) shared by the endpoint tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.runpod_client import RunPodClient, RunPodSettings
from handler.local_endpoint import EndpointServer, EndpointSettings
from handler.settings import WorkerSettings


def endpoint_worker_settings(base: WorkerSettings, work_dir: Path) -> WorkerSettings:
    """The session's worker settings (tests/conftest.py) with the endpoint processes' own work folder."""
    # allow_loopback_urls: a request's s3Config may name moto's server on 127.0.0.1.
    update = {"work_dir": work_dir, "interrupt_grace_s": 2.0, "log_level": "WARNING", "allow_loopback_urls": True}
    return base.model_copy(update=update)


def fast_endpoint_settings(**overrides: object) -> EndpointSettings:
    """RunPod's behaviour with its waits shortened: retries 0.2 s apart, policy minimums lifted."""
    base: dict[str, object] = {
        "port": 0,
        "workers": 1,
        "webhook_retry_interval_s": 0.2,
        "cancel_grace_s": 2,
        "min_execution_timeout_ms": 0,
        "min_ttl_ms": 0,
        "sweep_interval_s": 0.1,
        "log_level": "WARNING",
        "allow_loopback_webhooks": True,  # the tests' webhook receivers listen on 127.0.0.1
        "keep_input_for_retry": True,  # /retry is part of the contract under test
    }
    return EndpointSettings(**{**base, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def local_endpoint(
    tmp_path_factory: pytest.TempPathFactory, worker_settings: WorkerSettings
) -> Iterator[EndpointServer]:
    work_dir = tmp_path_factory.mktemp("endpoint-worker")
    server = EndpointServer(fast_endpoint_settings(), endpoint_worker_settings(worker_settings, work_dir))
    server.start_in_thread()
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture(params=["local", "runpod"])
def target(request: pytest.FixtureRequest, local_endpoint: EndpointServer) -> RunPodSettings:
    """Where the contract tests run: always the local endpoint; RunPod's cloud too when configured."""
    fast = {"poll_initial_s": 0.05, "poll_max_s": 0.5, "backoff_base_s": 0.05}
    if request.param == "local":
        return RunPodSettings(base_url=local_endpoint.url, endpoint_id="local", **fast)  # type: ignore[arg-type]
    endpoint_id = os.environ.get("RUNPOD_CONTRACT_ENDPOINT_ID")
    if not endpoint_id or not os.environ.get("RUNPOD_API_KEY"):
        pytest.skip("set RUNPOD_CONTRACT_ENDPOINT_ID and RUNPOD_API_KEY to run the contract against RunPod")
    return RunPodSettings(endpoint_id=endpoint_id, **fast)  # type: ignore[arg-type]


@pytest.fixture
async def client(target: RunPodSettings) -> AsyncIterator[RunPodClient]:
    async with RunPodClient(target) as client:
        yield client


@pytest.fixture
async def local_client(local_endpoint: EndpointServer) -> AsyncIterator[RunPodClient]:
    """For behaviour only the local endpoint can show (killing its processes, shortened policies)."""
    settings = RunPodSettings(
        base_url=local_endpoint.url,
        endpoint_id="local",
        poll_initial_s=0.05,
        poll_max_s=0.5,  # type: ignore[arg-type]
    )
    async with RunPodClient(settings) as client:
        yield client
