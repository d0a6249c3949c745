"""RunPod Hub metadata (.runpod/hub.json, .runpod/tests.json) follows the Hub's format and fits this worker.

The format is the one runpod-workers/worker-comfyui's .runpod files use (hub.json: title, description, type,
category, config with runsOn, containerDiskInGb, gpuIds, gpuCount, allowedCudaVersions and env inputs;
tests.json: tests with name, input, timeout in ms, and a config with gpuTypeId, gpuCount, env, CUDA versions).
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from comfy_image import deploy_endpoint
from handler.schema import JobInput
from handler.settings import REPO_ROOT, WorkerSettings

# The CUDA versions RunPod's endpoint settings offer (the Hub's config takes an exact list of them).
CUDA_VERSIONS = ("13.0", "12.9", "12.8", "12.7", "12.6", "12.5", "12.4", "12.3", "12.2", "12.1", "12.0", "11.8")
Cuda = Literal[CUDA_VERSIONS]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvInput(Strict):
    name: str
    type: Literal["string", "number", "boolean"]
    description: str
    default: str | int | float | bool
    advanced: bool = False


class EnvEntry(Strict):
    key: str
    input: EnvInput


class HubConfig(Strict):
    runsOn: Literal["GPU", "CPU"]
    containerDiskInGb: int = Field(gt=0)
    gpuIds: str = Field(pattern=r"^[A-Z0-9_]+(,[A-Z0-9_]+)*$")
    gpuCount: int = Field(ge=1)
    allowedCudaVersions: list[Cuda] = Field(min_length=1)
    env: list[EnvEntry]


class Hub(Strict):
    title: str
    description: str
    type: Literal["serverless"]
    category: Literal["image", "video", "audio", "language", "embedding"]
    iconUrl: str | None = None
    config: HubConfig


class HubTest(Strict):
    name: str
    input: dict[str, object]
    timeout: int = Field(gt=0, description="ms")


class CaseEnv(Strict):
    key: str
    value: str


class CasesConfig(Strict):
    gpuTypeId: str
    gpuCount: int = Field(ge=1)
    env: list[CaseEnv] = []
    allowedCudaVersions: list[Cuda] = Field(min_length=1)


class HubTests(Strict):
    tests: list[HubTest] = Field(min_length=1)
    config: CasesConfig


HUB = Hub.model_validate_json((REPO_ROOT / ".runpod" / "hub.json").read_text())
TESTS = HubTests.model_validate_json((REPO_ROOT / ".runpod" / "tests.json").read_text())
WORKER_ENV = {name.upper() for name in WorkerSettings.model_fields}


ENV = {"WORKER_IMAGE": "a/b@sha256:" + "0" * 64, "RUNPOD_NETWORK_VOLUME_ID": "v", "S3_BUCKET": "b"}
DECLARED = deploy_endpoint.load(REPO_ROOT / "runpod.toml", ENV).endpoint


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_cuda_versions_are_those_the_image_runs_on() -> None:
    floor = version(DECLARED.min_cuda_version)  # runpod.toml states a floor, the Hub files an exact list
    offered_from_floor = {v for v in CUDA_VERSIONS if version(v) >= floor}
    assert set(HUB.config.allowedCudaVersions) == offered_from_floor == set(TESTS.config.allowedCudaVersions)


def test_the_hub_and_the_endpoint_use_the_same_gpu_pools() -> None:
    assert HUB.config.gpuIds.split(",") == DECLARED.gpu_pools


def test_every_env_key_is_a_worker_setting() -> None:
    keys = {entry.key for entry in HUB.config.env} | {entry.key for entry in TESTS.config.env}
    assert keys <= WORKER_ENV, keys - WORKER_ENV


def test_the_hub_test_is_a_valid_job_that_needs_no_weights() -> None:
    for case in TESTS.tests:
        job = JobInput.model_validate(case.input)
        assert job.workflow is not None
        classes = {node["class_type"] for node in json.loads(json.dumps(job.workflow)).values()}
        assert classes <= {"EmptyImage", "SaveImage"}, classes


def test_the_guides_curl_check_sends_the_hub_test_job() -> None:
    # docs/deploy.md step 7 checks a new endpoint with the same weightless job the Hub runs.
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text()
    body = guide.split('/runsync" \\\n', 1)[1].split("-d '", 1)[1].split("'\n", 1)[0]
    assert JobInput.model_validate(json.loads(body)["input"]).workflow == TESTS.tests[0].input["workflow"]
