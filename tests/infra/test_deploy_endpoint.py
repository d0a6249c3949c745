"""comfy_image/deploy_endpoint.py applies runpod.toml through a stand-in of RunPod's REST API over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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


def test_first_apply_creates_the_template_then_an_endpoint_on_it(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply")
    assert result.returncode == 0, result.stderr
    assert [(method, kind) for method, kind, _ in api.writes] == [("POST", "templates"), ("POST", "endpoints")]
    (template,) = api.templates.values()
    (endpoint,) = api.endpoints.values()
    assert template["imageName"] == IMAGE and template["isServerless"] is True
    assert template["env"]["S3_SECRET_ACCESS_KEY"] == "{{ RUNPOD_SECRET_s3_secret_access_key }}"
    assert endpoint["templateId"] == template["id"]
    assert endpoint["networkVolumeId"] == "vol123"
    assert endpoint["allowedCudaVersions"] == ["12.8", "12.9", "13.0"]
    assert endpoint["executionTimeoutMs"] == 900_000 and endpoint["computeType"] == "GPU"


def test_second_apply_changes_nothing(api: RunPodRestStandIn) -> None:
    assert deploy(api, "apply").returncode == 0
    writes = len(api.writes)
    again = deploy(api, "apply")
    assert again.returncode == 0, again.stderr
    assert len(api.writes) == writes
    assert "template comfy-runpod-worker: no change" in again.stdout
    assert "endpoint comfy-runpod-worker: no change" in again.stdout


def test_a_new_digest_and_more_workers_patch_only_those_fields(api: RunPodRestStandIn, tmp_path: Path) -> None:
    assert deploy(api, "apply").returncode == 0
    declaration = tmp_path / "runpod.toml"
    declaration.write_text((REPO_ROOT / "runpod.toml").read_text().replace("workers_max = 3", "workers_max = 5"))
    new_image = IMAGE.replace("ab" * 32, "cd" * 32)
    writes = len(api.writes)

    planned = deploy(api, "apply", "--dry-run", file=declaration, WORKER_IMAGE=new_image)
    assert planned.returncode == 0 and len(api.writes) == writes  # a dry run writes nothing
    assert "endpoint comfy-runpod-worker: workersMax 3 -> 5 (dry run)" in planned.stdout

    applied = deploy(api, "apply", file=declaration, WORKER_IMAGE=new_image)
    assert applied.returncode == 0, applied.stderr
    patches = [(kind.split("/")[0], body) for _, kind, body in api.writes[writes:]]
    assert patches == [("templates", {"imageName": new_image}), ("endpoints", {"workersMax": 5})]


def test_an_image_by_tag_is_refused_before_any_request(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply", WORKER_IMAGE="ghcr.io/someone/comfy-runpod-worker:latest")
    assert result.returncode == 2
    assert "template.image" in result.stderr and "sha256" in result.stderr
    assert api.writes == []


def test_unset_variables_are_named(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply", WORKER_IMAGE="", S3_BUCKET="")
    assert result.returncode == 2
    assert "set these environment variables (runpod.toml uses them): S3_BUCKET, WORKER_IMAGE" in result.stderr


def test_a_wrong_api_key_is_reported_as_such(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply", RUNPOD_API_KEY="not-the-key")
    assert result.returncode == 1
    assert "HTTP 401: RUNPOD_API_KEY is missing, wrong or lacks this permission" in result.stderr
    assert api.writes == []


def test_show_prints_the_bodies_without_calling_the_api(api: RunPodRestStandIn) -> None:
    result = deploy(api, "show", RUNPOD_REST_URL="http://127.0.0.1:9/v1")
    assert result.returncode == 0, result.stderr
    assert '"imageName": "' + IMAGE + '"' in result.stdout


def test_a_retired_api_version_says_what_to_do_instead(api: RunPodRestStandIn) -> None:
    result = deploy(api, "apply", RUNPOD_REST_URL=api.base_url.replace("/v1", "/v0"))
    assert result.returncode == 1
    assert "HTTP 404: this API version may be retired" in result.stderr and "docs/deploy.md, step 6" in result.stderr
