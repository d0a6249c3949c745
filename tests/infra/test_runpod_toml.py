"""runpod.toml is the endpoint declaration comfy_image/deploy_endpoint.py applies: its values fit this worker."""

from __future__ import annotations

import tomllib

from comfy_image import deploy_endpoint
from handler.settings import REPO_ROOT, WorkerSettings

RAW = tomllib.loads((REPO_ROOT / "runpod.toml").read_text())
ENV = {"WORKER_IMAGE": "ghcr.io/a/b@sha256:" + "0" * 64, "RUNPOD_NETWORK_VOLUME_ID": "v", "S3_BUCKET": "b"}
DECLARATION = deploy_endpoint.load(REPO_ROOT / "runpod.toml", ENV)

# RunPod serverless GPU pools and the memory (GB) of their smallest card, reading RunPod's two pool tables
# (docs.runpod.io references/gpu-types and flash/configuration/gpu-types) at their worst: one puts the 20 GB
# RTX A4500 in AMPERE_24.
POOL_MIN_MEMORY_GB = {
    "AMPERE_16": 16,
    "AMPERE_24": 20,
    "ADA_24": 24,
    "ADA_32_PRO": 32,
    "AMPERE_48": 48,
    "ADA_48_PRO": 48,
    "AMPERE_80": 80,
    "ADA_80_PRO": 80,
    "HOPPER_141": 141,
}


def test_image_comes_from_the_environment_and_must_be_a_digest() -> None:
    assert RAW["container"]["image"] == "${WORKER_IMAGE}"
    assert "@sha256:" in DECLARATION.container.image


def test_every_gpu_class_has_at_least_20_gb_and_cuda_is_12_8_or_newer() -> None:
    endpoint = DECLARATION.endpoint
    assert endpoint.gpu_pools and all(POOL_MIN_MEMORY_GB[pool] >= 20 for pool in endpoint.gpu_pools)
    assert tuple(map(int, endpoint.min_cuda_version.split("."))) >= (12, 8)
    assert endpoint.gpu_count == 1 and endpoint.network_volume_id == "v"


def test_runpod_stops_a_job_only_after_the_worker_has() -> None:
    job_timeout_s = float(DECLARATION.container.env["JOB_TIMEOUT_S"])
    assert DECLARATION.endpoint.execution_timeout_s > job_timeout_s + WorkerSettings().interrupt_grace_s


def test_every_env_name_is_a_worker_setting_and_keys_are_secrets() -> None:
    known = {name.upper() for name in WorkerSettings.model_fields}
    names = set(DECLARATION.container.env) | set(DECLARATION.container.secrets)
    assert names <= known, names - known
    assert {"S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"} <= set(DECLARATION.container.secrets)
