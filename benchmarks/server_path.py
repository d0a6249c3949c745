"""The baseline: ComfyUI's own HTTP server driven the way runpod-workers/worker-comfyui drives it, job by job.

Two ways to run that baseline:

* ``run_job``: worker-comfyui's per-job work (v5.8.5, ``handler.py``), rewritten here step for step: input
  check, the readiness probe it makes before EVERY job (its PID-file liveness check, then ``GET /``), a websocket
  per job, ``POST /prompt``, reading websocket messages (queue ``status`` messages logged) until ``executing``
  with ``node: null`` or ``execution_error``, ``GET /history/{id}``, ``GET /view`` per image (``type: temp``
  skipped), then base64, or a temporary file uploaded with runpod's ``rp_upload.upload_image``; its log lines are
  printed (to /dev/null here, as our worker's log lines are). Plain ``requests`` calls, a new connection each.
* ``WorkerComfyuiHandler``: worker-comfyui's own ``handler.handler`` imported from a checkout of that repository
  (``--worker-comfyui DIR``), pointed at this server.

``ComfyServer`` starts ``main.py`` with the flags worker-comfyui's ``src/start.sh`` passes (``--disable-auto-launch
--disable-metadata --verbose DEBUG --log-stdout``), plus the port, folders and ``--cpu`` without CUDA, and writes
the PID file its probe reads. Its output goes to /dev/null (on RunPod it goes to the container log).
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import requests
import websocket

from benchmarks.common import COMFYUI

# worker-comfyui v5.8.5 src/start.sh: `python -u /comfyui/main.py --disable-auto-launch --disable-metadata
# --verbose "${COMFY_LOG_LEVEL:=DEBUG}" --log-stdout &` (it also preloads tcmalloc when the image has it).
WORKER_COMFYUI_FLAGS = ["--disable-auto-launch", "--disable-metadata", "--verbose", "DEBUG", "--log-stdout"]
PROBE_INTERVAL_S = 0.05  # COMFY_API_AVAILABLE_INTERVAL_MS default
Delivery = Literal["base64", "rp_upload", "rp_upload_reused_client"]
LOG = open(os.devnull, "w")  # noqa: SIM115  worker-comfyui's print() lines; lives as long as the process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerJob:
    wall_ms: float
    execute_ms: float  # from the history's execution_start -> execution_success timestamps (1 ms resolution)
    result: dict[str, Any]


class ComfyServer:
    """``python main.py`` as a subprocess with its own folders; the models folder is mapped by a yaml file."""

    def __init__(self, root: Path, models_dir: Path, cpu: bool = True) -> None:
        self.root = root
        self.models_dir = models_dir
        self.cpu = cpu
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.pid_file = root / "comfyui.pid"
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        dirs = {name: self.root / name for name in ("input", "output", "temp", "user")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        yaml = self.root / "extra_model_paths.yaml"
        kinds = ("checkpoints", "vae", "clip", "loras", "liveportrait")
        yaml.write_text(f"bench:\n  base_path: {self.models_dir}\n" + "".join(f"  {k}: {k}/\n" for k in kinds))
        folders = [arg for name, path in dirs.items() for arg in (f"--{name}-directory", str(path))]
        return [
            sys.executable,
            "main.py",
            *WORKER_COMFYUI_FLAGS,
            "--listen",
            "127.0.0.1",
            "--port",
            str(self.port),
            *(["--cpu"] if self.cpu else []),
            *folders,
            "--extra-model-paths-config",
            str(yaml),
        ]

    def start(self, timeout_s: float = 600.0) -> float:
        """Start the server; returns seconds from spawn until ``GET /`` answers 200 (polled every 50 ms)."""
        started = time.perf_counter()
        self.proc = subprocess.Popen(self.argv(), cwd=COMFYUI, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid_file.write_text(str(self.proc.pid))  # as start.sh does, for the handler's liveness check
        while time.perf_counter() - started < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI's server exited with {self.proc.returncode}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://{self.host}/", timeout=5).status_code == 200:
                    return time.perf_counter() - started
            time.sleep(PROBE_INTERVAL_S)
        raise TimeoutError("ComfyUI's server did not come up")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def execute_ms(entry: dict[str, Any]) -> float:
    stamps = {event: data.get("timestamp") for event, data in entry.get("status", {}).get("messages", [])}
    if stamps.get("execution_start") is None or stamps.get("execution_success") is None:
        raise RuntimeError(f"the prompt did not succeed: {entry.get('status')}")
    return float(stamps["execution_success"] - stamps["execution_start"])


def _log(message: str) -> None:
    print(f"worker-comfyui - {message}", file=LOG)


def _process_alive(pid_file: Path) -> bool | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_server(server: ComfyServer) -> None:
    """handler.check_server, run before every job: liveness from the PID file, then ``GET /`` until 200."""
    _log(f"Checking API server at http://{server.host}/...")
    while True:
        if _process_alive(server.pid_file) is False:
            raise RuntimeError("ComfyUI process has exited")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"http://{server.host}/", timeout=5).status_code == 200:
                _log("API is reachable")
                return
        time.sleep(PROBE_INTERVAL_S)


def _queue(host: str, workflow: dict[str, Any], client_id: str) -> str:
    data = json.dumps({"prompt": workflow, "client_id": client_id}).encode("utf-8")
    response = requests.post(
        f"http://{host}/prompt", data=data, headers={"Content-Type": "application/json"}, timeout=30
    )
    if response.status_code == 400:
        raise RuntimeError(f"workflow validation failed: {response.text}")
    response.raise_for_status()
    return str(response.json()["prompt_id"])


def _wait_done(ws: websocket.WebSocket, prompt_id: str) -> None:
    while True:
        message = ws.recv()
        if not isinstance(message, str):
            continue  # binary frames are previews
        event = json.loads(message)
        data = event.get("data", {})
        kind = event.get("type")
        if kind == "status":
            remaining = data.get("status", {}).get("exec_info", {}).get("queue_remaining", "N/A")
            _log(f"Status update: {remaining} items remaining in queue")
        elif kind == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
            _log(f"Execution finished for prompt {prompt_id}")
            return
        elif kind == "execution_error" and data.get("prompt_id") == prompt_id:
            raise RuntimeError(f"execution error: {data.get('exception_message')}")


_REUSED: dict[str, Any] = {}


@contextlib.contextmanager
def _client_reused(delivery: Delivery) -> Iterator[None]:
    """rp_upload.upload_image with its boto3 client made once (the only change): isolates client creation."""
    if delivery != "rp_upload_reused_client":
        yield
        return
    from runpod.serverless.utils import rp_upload

    original = rp_upload.get_boto_client
    if "client" not in _REUSED:
        _REUSED["client"] = original()
    rp_upload.get_boto_client = lambda *_args, **_kwargs: _REUSED["client"]  # type: ignore[assignment]
    try:
        yield
    finally:
        rp_upload.get_boto_client = original  # type: ignore[assignment]


def _deliver(content: bytes, filename: str, job_id: str, delivery: Delivery) -> dict[str, str]:
    if delivery == "base64":
        _log(f"Encoded {filename} as base64")
        return {"filename": filename, "type": "base64", "data": base64.b64encode(content).decode("utf-8")}
    from runpod.serverless.utils import rp_upload  # reads BUCKET_ENDPOINT_URL and the keys from the environment

    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(filename)[1] or ".png", delete=False) as tmp:
        tmp.write(content)
    with _client_reused(delivery):
        url = str(rp_upload.upload_image(job_id, tmp.name))
    os.remove(tmp.name)
    _log(f"Uploaded {filename} to S3: {url}")
    return {"filename": filename, "type": "s3_url", "data": url}


def _collect(host: str, entry: dict[str, Any], job_id: str, delivery: Delivery) -> list[dict[str, str]]:
    delivered = []
    for node_id, node_output in entry.get("outputs", {}).items():
        for image in node_output.get("images", []):
            if image.get("type") == "temp":
                continue
            query = urllib.parse.urlencode(
                {"filename": image["filename"], "subfolder": image.get("subfolder", ""), "type": image["type"]}
            )
            _log(f"Fetching image data: {query}")
            view = requests.get(f"http://{host}/view?{query}", timeout=60)
            view.raise_for_status()
            delivered.append(_deliver(view.content, image["filename"], job_id, delivery))
        other = [key for key in node_output if key != "images"]
        if other:
            _log(f"WARNING: Node {node_id} produced unhandled output keys: {other}.")
    return delivered


def run_job(server: ComfyServer, workflow: dict[str, Any], delivery: Delivery = "base64") -> ServerJob:
    """One job through the server, end to end, as worker-comfyui's handler runs it."""
    started = time.perf_counter()
    job_id = str(uuid.uuid4())
    job_input = json.loads(json.dumps({"workflow": workflow}))  # the job arrives as JSON; validate_input reads it
    if not isinstance(job_input.get("workflow"), dict):
        raise ValueError("Missing 'workflow' parameter")
    _check_server(server)
    client_id = str(uuid.uuid4())
    ws = websocket.WebSocket()
    ws.connect(f"ws://{server.host}/ws?clientId={client_id}", timeout=10)  # type: ignore[no-untyped-call]
    try:
        prompt_id = _queue(server.host, job_input["workflow"], client_id)
        _wait_done(ws, prompt_id)
    finally:
        ws.close()
    history = requests.get(f"http://{server.host}/history/{prompt_id}", timeout=30)
    history.raise_for_status()
    entry = history.json()[prompt_id]
    images = _collect(server.host, entry, job_id, delivery)
    if not images:
        raise RuntimeError("the server returned no images")
    return ServerJob((time.perf_counter() - started) * 1000, execute_ms(entry), {"images": images})


class WorkerComfyuiHandler:
    """worker-comfyui's own ``handler.handler`` from a checkout, pointed at ``server``; its prints to /dev/null."""

    def __init__(self, checkout: Path, server: ComfyServer) -> None:
        self.server = server
        self.module = self._load(checkout)
        self.module.COMFY_HOST = server.host
        self.module.COMFY_PID_FILE = str(server.pid_file)

    @staticmethod
    def _load(checkout: Path) -> ModuleType:
        source = checkout / "handler.py"
        if not source.is_file():
            raise SystemExit(f"{checkout} is not a worker-comfyui checkout (no handler.py)")
        sys.path.insert(0, str(checkout / "src"))  # its image copies src/network_volume.py beside handler.py
        spec = importlib.util.spec_from_file_location("worker_comfyui_handler", source)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        with contextlib.redirect_stdout(io.StringIO()):
            spec.loader.exec_module(module)
        return module

    def run_job(self, workflow: dict[str, Any], delivery: Delivery = "base64") -> ServerJob:
        if delivery == "rp_upload_reused_client":
            raise ValueError("worker-comfyui's own handler always makes a new client per upload")
        env_key = "BUCKET_ENDPOINT_URL"
        saved = os.environ.pop(env_key, None) if delivery == "base64" else None  # its S3 switch is this variable
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(LOG):
                result = self.module.handler({"id": str(uuid.uuid4()), "input": {"workflow": workflow}})
        finally:
            if saved is not None:
                os.environ[env_key] = saved
        wall = (time.perf_counter() - started) * 1000
        if "error" in result or not result.get("images"):
            raise RuntimeError(f"worker-comfyui's handler failed: {result}")
        last = requests.get(f"http://{self.server.host}/history?max_items=1", timeout=30).json()
        return ServerJob(wall, execute_ms(next(iter(last.values()))), result)
