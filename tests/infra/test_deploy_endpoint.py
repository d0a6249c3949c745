"""comfy_image/deploy_endpoint.py applies runpod.toml through a stand-in of RunPod's REST API v2 over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from handler.settings import REPO_ROOT
from tests.infra.runpod_rest import RunPodRestStandIn

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"ghcr.io/someone/comfy-runpod-worker@{DIGEST}"
ENV = {"WORKER_IMAGE": IMAGE, "RUNPOD_NETWORK_VOLUME_ID": "vol123", "S3_BUCKET": "outputs-bucket"}


@pytest.fixture
def api() -> Iterator[RunPodRestStandIn]:
    standin = RunPodRestStandIn(api_key="rp-test-key")
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


def deploy(
    api: RunPodRestStandIn, *args: str, file: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "S3_", "WORKER_IMAGE"))}
    clean |= ENV | {"RUNPOD_API_KEY": "rp-test-key", "RUNPOD_REST_URL": api.base_url} | env
    command = [sys.executable, "-m", "comfy_image.deploy_endpoint"]
    command += ["--file", str(file)] if file else []
    return subprocess.run(
        [*command, *args], cwd=REPO_ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def test_first_apply_creates_the_endpoint_with_its_container_settings(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply")
    assert result.returncode == 0, result.stderr
    assert [(method, kind) for method, kind, _ in api.writes] == [("POST", "serverless")]
    (endpoint,) = api.endpoints.values()
    assert endpoint["image"] == IMAGE and endpoint["type"] == "QUEUE" and endpoint["args"] == ""
    assert endpoint["env"]["S3_SECRET_ACCESS_KEY"] == "{{ RUNPOD_SECRET_s3_secret_access_key }}"
    assert endpoint["env"]["S3_BUCKET"] == "outputs-bucket" and endpoint["registry"] is None
    assert endpoint["gpu"]["pools"] == ["AMPERE_24", "ADA_24", "AMPERE_48", "ADA_48_PRO"]
    assert endpoint["gpu"]["minCudaVersion"] == "12.8" and endpoint["gpu"]["allowedCudaVersions"] == []
    assert endpoint["networkVolumes"] == ["vol123"]
    assert endpoint["workers"] == {"min": 0, "max": 3, "idleTimeout": 60}
    assert endpoint["scaling"] == {"type": "QUEUE_DELAY", "queueDelay": 4}
    assert endpoint["timeout"] == 900_000 and endpoint["flashboot"] == "FLASHBOOT"


def test_second_apply_changes_nothing(api: RunPodRestStandIn) -> None:
    assert deploy(api, "apply").returncode == 0
    writes = len(api.writes)
    again = deploy(api, "apply")
    assert again.returncode == 0, again.stderr
    assert len(api.writes) == writes
    assert "endpoint comfy-runpod-worker: no change" in again.stdout


def test_a_new_digest_and_more_workers_patch_only_those_fields(api: RunPodRestStandIn, tmp_path: Path) -> None:
    assert deploy(api, "apply").returncode == 0
    declaration = tmp_path / "runpod.toml"
    declaration.write_text((REPO_ROOT / "runpod.toml").read_text().replace("workers_max = 3", "workers_max = 5"))
    new_image = IMAGE.replace("ab" * 32, "cd" * 32)
    writes = len(api.writes)

    planned = deploy(api, "apply", "--dry-run", file=declaration, WORKER_IMAGE=new_image)
    assert planned.returncode == 0 and len(api.writes) == writes  # a dry run writes nothing
    assert f'endpoint comfy-runpod-worker: image "{IMAGE}" -> "{new_image}" (dry run)' in planned.stdout

    applied = deploy(api, "apply", file=declaration, WORKER_IMAGE=new_image)
    assert applied.returncode == 0, applied.stderr
    patches = [(kind.split("/")[0], body) for _, kind, body in api.writes[writes:]]
    assert patches == [("serverless", {"image": new_image, "workers": {"min": 0, "max": 5, "idleTimeout": 60}})]
    (endpoint,) = api.endpoints.values()
    assert endpoint["image"] == new_image and endpoint["workers"]["max"] == 5


def test_an_endpoint_left_by_the_v1_command_is_brought_to_the_declaration(api: RunPodRestStandIn) -> None:
    assert deploy(api, "apply").returncode == 0
    (endpoint,) = api.endpoints.values()
    # What REST v1 stored: an exact CUDA set and no floor (the v2 schema forbids both at once).
    endpoint["gpu"] |= {"allowedCudaVersions": ["12.8", "12.9", "13.0"], "minCudaVersion": None}
    endpoint["env"]["DROPPED_SETTING"] = "1"  # no longer declared: removed
    writes = len(api.writes)
    result = deploy(api, "apply")
    assert result.returncode == 0, result.stderr
    (patch,) = [body for _, _, body in api.writes[writes:]]
    assert patch["gpu"]["allowedCudaVersions"] == [] and patch["gpu"]["minCudaVersion"] == "12.8"
    assert set(patch) == {"gpu", "env"} and "DROPPED_SETTING" not in patch["env"]
    assert api.endpoints[endpoint["id"]]["gpu"]["minCudaVersion"] == "12.8"


def test_the_stand_in_rejects_a_v1_field_by_name(api: RunPodRestStandIn) -> None:
    body = json.loads(deploy(api, "show").stdout) | {"gpuTypeIds": ["NVIDIA GeForce RTX 4090"]}
    body["workers"] |= {"workersMax": 3}
    answer = httpx.post(f"{api.base_url}/serverless", json=body, headers={"Authorization": "Bearer rp-test-key"})
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["title"] == "Unprocessable Entity" and problem["detail"] == "Request validation failed."
    assert problem["errors"] == [
        "$: additional properties 'gpuTypeIds' not allowed",
        "$.workers: additional properties 'workersMax' not allowed",
    ]
    assert api.writes == []


def test_a_refused_write_shows_runpods_problem_detail(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply", RUNPOD_API_KEY=api.read_only_key)
    assert result.returncode == 1
    assert "POST /serverless: HTTP 403 Forbidden: access denied" in result.stderr
    assert "read/write access to Serverless" in result.stderr
    assert api.writes == []


def test_an_image_by_tag_is_refused_before_any_request(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply", WORKER_IMAGE="ghcr.io/someone/comfy-runpod-worker:latest")
    assert result.returncode == 2
    assert "container.image" in result.stderr and "sha256" in result.stderr
    assert api.writes == []


def test_unset_variables_are_named(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply", WORKER_IMAGE="", S3_BUCKET="")
    assert result.returncode == 2
    assert "set these environment variables (runpod.toml uses them): S3_BUCKET, WORKER_IMAGE" in result.stderr


def test_a_wrong_api_key_is_reported_as_such(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply", RUNPOD_API_KEY="not-the-key")
    assert result.returncode == 1
    assert "HTTP 401: RUNPOD_API_KEY is missing or wrong" in result.stderr
    assert api.writes == []


def test_show_prints_the_body_without_calling_the_api(api: RunPodRestStandIn) -> None:
    result = deploy(api, "show", RUNPOD_REST_URL="http://127.0.0.1:9/v2")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["image"] == IMAGE


def test_the_retired_v1_url_says_which_one_to_use(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply", RUNPOD_REST_URL=api.base_url.replace("/v2", "/v1"))
    assert result.returncode == 1
    assert "HTTP 404: no such API path; RUNPOD_REST_URL should be https://api.runpod.io/v2" in result.stderr


def test_request_count_scaling_sends_a_whole_count_and_no_idle_timeout(api: RunPodRestStandIn, tmp_path: Path) -> None:
    declaration = tmp_path / "runpod.toml"
    text = (
        (REPO_ROOT / "runpod.toml").read_text().replace('scaler_type = "QUEUE_DELAY"', 'scaler_type = "REQUEST_COUNT"')
    )
    declaration.write_text(text)
    result = deploy(api, "apply", file=declaration)
    assert result.returncode == 0, result.stderr  # the stand-in answers 422 to idleTimeout beside REQUEST_COUNT
    (endpoint,) = api.endpoints.values()
    assert (
        endpoint["scaling"] == {"type": "REQUEST_COUNT", "requestCount": 4} and "idleTimeout" not in endpoint["workers"]
    )


def test_an_endpoint_of_another_type_is_not_patched(api: RunPodRestStandIn) -> None:
    assert deploy(api, "apply").returncode == 0
    (endpoint,) = api.endpoints.values()
    endpoint["type"] = "LOAD_BALANCER"
    writes = len(api.writes)
    result = deploy(api, "apply")
    assert result.returncode == 1 and len(api.writes) == writes
    assert "is a LOAD_BALANCER endpoint and v2 cannot change that" in result.stderr


def test_pools_listed_in_another_order_are_no_change(api: RunPodRestStandIn) -> None:
    assert deploy(api, "apply").returncode == 0
    (endpoint,) = api.endpoints.values()
    endpoint["gpu"]["pools"] = list(reversed(endpoint["gpu"]["pools"]))  # v2 gives pool order no meaning
    writes = len(api.writes)
    result = deploy(api, "apply")
    assert result.returncode == 0 and len(api.writes) == writes, result.stdout
