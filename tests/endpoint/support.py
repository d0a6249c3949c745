"""Jobs and helpers for the endpoint tests: model-free workflows that run on the real worker."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.runpod_client import JobState, JobStatus, RunPodClient
from handler.local_endpoint.examples import blank_image_input


def blank_job(size: int = 64) -> dict[str, Any]:
    """Milliseconds on CPU; a fresh colour each time so ComfyUI's cache never skips the work."""
    return blank_image_input(size, size, color=random.randrange(1 << 24))


def long_job(nodes: int = 60, size: int = 512, radius: int = 15) -> dict[str, Any]:
    """About 20 s of image work with no model: EmptyImage -> ImageBlur x nodes -> SaveImage.

    ComfyUI checks for an interrupt before every node, so cancelling it stops within one blur.
    """
    workflow: dict[str, Any] = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": size, "height": size, "batch_size": 1, "color": random.randrange(1 << 24)},
        }
    }
    previous = "1"
    for index in range(nodes):
        node = str(100 + index)
        workflow[node] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [previous, 0], "blur_radius": radius, "sigma": 3.0},
        }
        previous = node
    workflow["2"] = {"class_type": "SaveImage", "inputs": {"images": [previous, 0], "filename_prefix": "long"}}
    return {"workflow": workflow}


async def until(client: RunPodClient, job_id: str, state: JobState, timeout_s: float = 60.0) -> JobStatus:
    """Poll until the job reaches ``state`` (or any final state)."""
    async with asyncio.timeout(timeout_s):
        while True:
            status = await client.status(job_id)
            if status.status is state or status.is_terminal:
                return status
            await asyncio.sleep(0.05)


async def occupy_worker(client: RunPodClient) -> str:
    """Start a long job and return once the (single) worker runs it."""
    job = await client.run(long_job())
    status = await until(client, job.id, JobState.IN_PROGRESS, timeout_s=120)
    assert status.status is JobState.IN_PROGRESS, status
    return job.id


class WebhookReceiver:
    """A real HTTP server on loopback answering webhooks with scripted status codes."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.bodies: list[dict[str, Any]] = []
        self.received = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                code = receiver.codes[min(len(receiver.bodies), len(receiver.codes)) - 1]
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()
                receiver.received.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    async def wait_for(self, count: int, timeout_s: float = 30.0) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.bodies) < count:  # noqa: ASYNC110 (filled by the HTTP server thread)
                await asyncio.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
