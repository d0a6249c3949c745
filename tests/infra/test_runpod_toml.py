"""runpod.toml: every key runpodctl's project commands read, with the type they read it as."""

from __future__ import annotations

import tomllib

from handler.settings import REPO_ROOT

CONFIG = tomllib.loads((REPO_ROOT / "runpod.toml").read_text())

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


def test_project_section_has_what_runpodctl_asserts() -> None:
    project = CONFIG["project"]
    assert isinstance(CONFIG["name"], str) and CONFIG["name"]
    assert isinstance(project["uuid"], str) and project["uuid"]
    assert isinstance(project["base_image"], str) and project["base_image"]
    assert isinstance(project["gpu_count"], int) and project["gpu_count"] == 1
    assert isinstance(project["container_disk_size_gb"], int) and project["container_disk_size_gb"] >= 20
    assert project["volume_mount_path"] == "/runpod-volume"
    assert isinstance(project["ports"], str)
    assert all(isinstance(value, str) for value in project["env_vars"].values())


def test_only_cards_with_at_least_20_gb() -> None:
    gpu_types = CONFIG["project"]["gpu_types"]
    assert gpu_types
    for gpu in gpu_types:
        assert GPU_MEMORY_GB.get(gpu, 0) >= 20, gpu


def test_endpoint_and_runtime_sections() -> None:
    endpoint = CONFIG["endpoint"]
    assert isinstance(endpoint["active_workers"], int) and endpoint["active_workers"] >= 0
    assert isinstance(endpoint["max_workers"], int) and endpoint["max_workers"] >= 1
    assert isinstance(endpoint["idle_timeout"], int) and endpoint["idle_timeout"] > 0
    assert endpoint["flashboot"] is True
    runtime = CONFIG["runtime"]
    assert runtime["python_version"] == "3.11"
    assert (REPO_ROOT / runtime["handler_path"]).is_file()
    assert (REPO_ROOT / runtime["requirements_path"]).is_file()
