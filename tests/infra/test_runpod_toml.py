"""runpod.toml is the endpoint declaration comfy_image/deploy_endpoint.py applies: its values fit this worker."""

from __future__ import annotations

import tomllib

from comfy_image import deploy_endpoint
from handler.settings import REPO_ROOT, WorkerSettings

RAW = tomllib.loads((REPO_ROOT / "runpod.toml").read_text())
ENV = {"WORKER_IMAGE": "ghcr.io/a/b@sha256:" + "0" * 64, "RUNPOD_NETWORK_VOLUME_ID": "v", "S3_BUCKET": "b"}
DECLARATION = deploy_endpoint.load(REPO_ROOT / "runpod.toml", ENV)

# RunPod GPU type ids and their memory (GB), for the ones this project may list.
GPU_MEMORY_GB = {
    "NVIDIA RTX A4500": 20,
    "NVIDIA RTX 4000 Ada Generation": 20,
    "NVIDIA RTX A5000": 24,
    "NVIDIA L4": 24,
    "NVIDIA GeForce RTX 3090": 24,
    "NVIDIA GeForce RTX 4090": 24,
    "NVIDIA RTX A6000": 48,
    "NVIDIA L40S": 48,
    "NVIDIA A40": 48,
    "NVIDIA A100 80GB PCIe": 80,
}


def test_image_comes_from_the_environment_and_must_be_a_digest() -> None:
    assert RAW["template"]["image"] == "${WORKER_IMAGE}"
    assert "@sha256:" in DECLARATION.template.image


def test_every_gpu_class_has_at_least_20_gb_and_cuda_is_12_8_or_newer() -> None:
    endpoint = DECLARATION.endpoint
    assert endpoint.gpu_type_ids and all(GPU_MEMORY_GB[gpu] >= 20 for gpu in endpoint.gpu_type_ids)
    assert all(tuple(map(int, v.split("."))) >= (12, 8) for v in endpoint.allowed_cuda_versions)
    assert endpoint.gpu_count == 1 and endpoint.network_volume_id == "v"


def test_runpod_stops_a_job_only_after_the_worker_has() -> None:
    job_timeout_s = float(DECLARATION.template.env["JOB_TIMEOUT_S"])
    assert DECLARATION.endpoint.execution_timeout_s > job_timeout_s + WorkerSettings().interrupt_grace_s


def test_every_env_name_is_a_worker_setting_and_keys_are_secrets() -> None:
    known = {name.upper() for name in WorkerSettings.model_fields}
    names = set(DECLARATION.template.env) | set(DECLARATION.template.secrets)
    assert names <= known, names - known
    assert {"S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"} <= set(DECLARATION.template.secrets)
