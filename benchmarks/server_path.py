"""The baseline: ComfyUI's own HTTP server driven the way a server-based RunPod worker drives it.

Modelled on what runpod-workers/worker-comfyui does per job (written here from its documented flow, not copied):
open the websocket ``/ws?clientId=...``, ``POST /prompt``, read websocket messages until ``executing`` with
``node: null`` for the prompt, ``GET /history/{id}``, ``GET /view`` for every image, then base64 the bytes or write
them to a temporary file and upload it with runpod's ``rp_upload.upload_image`` (boto3 put_object + presigned URL).
Plain ``requests`` calls, a new connection per request, as that worker makes them.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import websocket

from benchmarks.common import COMFYUI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerJob:
    wall_ms: float
    execute_ms: float  # from the history's execution_start -> execution_success timestamps (1 ms resolution)


class ComfyServer:
    """``python main.py`` as a subprocess with its own folders; the models folder is mapped by a yaml file."""

    def __init__(self, root: Path, models_dir: Path) -> None:
        self.root = root
        self.models_dir = models_dir
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        dirs = {name: self.root / name for name in ("input", "output", "temp", "user")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        yaml = self.root / "extra_model_paths.yaml"
        yaml.write_text(f"bench:\n  base_path: {self.models_dir}\n  checkpoints: checkpoints/\n")
        return [
            sys.executable,
            "main.py",
            "--cpu",
            "--listen",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--disable-auto-launch",
            "--dont-print-server",
            # the same settings the in-process engine uses: no previews, no workflow embedded in PNGs
            "--preview-method",
            "none",
            "--disable-metadata",
            "--input-directory",
            str(dirs["input"]),
            "--output-directory",
            str(dirs["output"]),
            "--temp-directory",
            str(dirs["temp"]),
            "--user-directory",
            str(dirs["user"]),
            "--extra-model-paths-config",
            str(yaml),
        ]

    def start(self, timeout_s: float = 180.0) -> float:
        """Start the server; returns seconds from spawn until ``GET /`` answers 200 (polled every 50 ms)."""
        started = time.perf_counter()
        self.proc = subprocess.Popen(self.argv(), cwd=COMFYUI, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while time.perf_counter() - started < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI's server exited with {self.proc.returncode}")
            try:
                if requests.get(f"http://{self.host}/", timeout=5).status_code == 200:
                    return time.perf_counter() - started
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise TimeoutError("ComfyUI's server did not come up")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def _execute_ms(entry: dict[str, Any]) -> float:
    stamps = {event: data.get("timestamp") for event, data in entry.get("status", {}).get("messages", [])}
    if stamps.get("execution_start") is None or stamps.get("execution_success") is None:
        raise RuntimeError(f"the prompt did not succeed: {entry.get('status')}")
    return float(stamps["execution_success"] - stamps["execution_start"])


def _wait_done(ws: websocket.WebSocket, prompt_id: str) -> None:
    import json

    while True:
        message = ws.recv()
        if not isinstance(message, str):
            continue  # binary frames are previews
        event = json.loads(message)
        data = event.get("data", {})
        if event.get("type") == "execution_error" and data.get("prompt_id") == prompt_id:
            raise RuntimeError(f"execution error: {data.get('exception_message')}")
        if event.get("type") == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
            return


def _deliver(content: bytes, filename: str, job_id: str, s3: bool) -> str:
    if not s3:
        return base64.b64encode(content).decode("utf-8")
    from runpod.serverless.utils import rp_upload  # reads BUCKET_ENDPOINT_URL and the keys from the environment

    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(filename)[1] or ".png", delete=False) as tmp:
        tmp.write(content)
    try:
        return str(rp_upload.upload_image(job_id, tmp.name))
    finally:
        os.remove(tmp.name)


def run_job(host: str, workflow: dict[str, Any], s3: bool = False) -> ServerJob:
    """One job through the server, end to end, as a server-based worker runs it."""
    started = time.perf_counter()
    client_id = str(uuid.uuid4())
    ws = websocket.WebSocket()
    ws.connect(f"ws://{host}/ws?clientId={client_id}", timeout=60)  # type: ignore[no-untyped-call]
    try:
        queued = requests.post(f"http://{host}/prompt", json={"prompt": workflow, "client_id": client_id}, timeout=30)
        queued.raise_for_status()
        prompt_id = queued.json()["prompt_id"]
        _wait_done(ws, prompt_id)
    finally:
        ws.close()
    entry = requests.get(f"http://{host}/history/{prompt_id}", timeout=30).json()[prompt_id]
    delivered = []
    for node_output in entry.get("outputs", {}).values():
        for image in node_output.get("images", []):
            params = {"filename": image["filename"], "subfolder": image.get("subfolder", ""), "type": image["type"]}
            view = requests.get(f"http://{host}/view", params=params, timeout=60)
            view.raise_for_status()
            delivered.append(_deliver(view.content, image["filename"], prompt_id, s3))
    if not delivered:
        raise RuntimeError("the server returned no images")
    return ServerJob((time.perf_counter() - started) * 1000, _execute_ms(entry))
