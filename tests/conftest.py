"""Shared fixtures: one real in-process ComfyUI worker per test session, a tiny random checkpoint, S3 (moto)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handler.settings import REPO_ROOT, WorkerSettings

TINY_CHECKPOINT = "tiny_sd3.safetensors"
CACHE = REPO_ROOT / ".cache" / "test-models"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    (root / "checkpoints").mkdir()
    return root


@pytest.fixture(scope="session")
def worker_settings(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> WorkerSettings:
    return WorkerSettings(
        comfyui_path=Path(os.environ.get("COMFYUI_PATH", REPO_ROOT / ".comfyui")),
        device="cpu",
        work_dir=tmp_path_factory.mktemp("work"),
        models_dir=models_dir,
        extra_model_paths=None,
        progress_interval_s=0.0,
        s3_bucket=None,
        log_json=False,
    )


class RecordingSink:
    """Collects progress reports the way RunPod's /status would show them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, job: dict[str, Any], progress: dict[str, Any]) -> None:
        self.events.append((str(job.get("id")), progress))

    def for_job(self, job_id: str) -> list[dict[str, Any]]:
        return [progress for jid, progress in self.events if jid == job_id]


@pytest.fixture(scope="session")
def progress_sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture(scope="session")
def worker(worker_settings: WorkerSettings, progress_sink: RecordingSink) -> Any:
    """The real worker, booted once: ComfyUI's globals live once per process."""
    from handler.worker import Worker

    instance = Worker(worker_settings, progress_sink=progress_sink)
    asyncio.run(instance.start())
    return instance


@pytest.fixture(scope="session")
def tiny_checkpoint(worker: Any, models_dir: Path) -> str:
    """A random-weight SD3-family checkpoint (MMDiT + TAESD16 + CLIP-L), generated once and cached on disk."""
    from tests.support.tiny_checkpoint import write_tiny_checkpoint

    cached = write_tiny_checkpoint(CACHE / "tiny-sd3-v1.safetensors")
    link = models_dir / "checkpoints" / TINY_CHECKPOINT
    if not link.exists():
        link.symlink_to(cached)
    return TINY_CHECKPOINT


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3-speaking server (moto's server mode) on a loopback port."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> dict[str, str]:
    import uuid

    import boto3

    name = f"bucket-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=name)
    return {
        "bucket": name,
        "endpoint_url": moto_endpoint,
        "region": "us-east-1",
        "access_key_id": "test",
        "secret_access_key": "test",
    }


class RaiseOutOfMemory:
    """Stands in for a GPU that runs out of memory mid-graph (no GPU exists here): raises what torch raises."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, image: Any) -> Any:
        import torch

        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


@pytest.fixture(scope="session")
def oom_node(worker: Any) -> str:
    """Registered the way ComfyUI registers any node class."""
    worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS["RaiseOutOfMemory"] = RaiseOutOfMemory
    return "RaiseOutOfMemory"
