"""comfy_image/start.sh's modes, run for real: the volume fill (no GPU check, records hashes, then idles instead
of exiting so a pod does not restart-loop) and the explicit opt-in for unverified weights."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from handler.settings import REPO_ROOT
from tests.infra.conftest import FileServer

START = REPO_ROOT / "comfy_image" / "start.sh"
PAYLOAD = b"weights\n" * 4096


def start(tmp_path: Path, server: FileServer, **env: str) -> tuple[int | None, str]:
    """Run start.sh until it idles (then stop it) or exits; return (exit status or None if idling, output)."""
    server.files["/org/repo/resolve/main/w.safetensors"] = PAYLOAD
    server.headers["/org/repo/resolve/main/w.safetensors"] = {"X-Repo-Commit": "c" * 40}
    manifest = tmp_path / "models.json"
    entry = {
        "name": "w", "repo": "org/repo", "revision": None, "url": server.url("/org/repo/resolve/main/w.safetensors"),
        "folder": "liveportrait", "filename": "w.safetensors", "size": None, "sha256": None, "license": "mit",
    }  # fmt: skip
    manifest.write_text(json.dumps({"version": 1, "models": [entry]}))
    full_env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "APP_DIR": str(REPO_ROOT),
        "VOLUME_MODELS_ROOT": str(tmp_path / "volume" / "models"),
        "MODELS_MANIFEST": str(manifest),
        "DEVICE": "cuda",  # a GPU check would fail here: the fill must not run one
    }
    proc = subprocess.Popen(
        ["bash", str(START)], env=full_env | env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    try:
        while time.monotonic() < deadline and (line := proc.stdout.readline()):
            lines.append(line)
            if "idling" in line:
                return None, "".join(lines)
        return proc.wait(timeout=30), "".join(lines)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def test_fill_downloads_records_and_idles_without_a_gpu_check(tmp_path: Path, file_server: FileServer) -> None:
    status, output = start(tmp_path, file_server, START_MODE="fill", ALLOW_UNVERIFIED_MODELS="1")
    assert status is None, output  # still running: idles instead of exiting
    assert "gpu_check" not in output and "GPU check" not in output
    target = tmp_path / "volume" / "models" / "liveportrait" / "w.safetensors"
    assert target.read_bytes() == PAYLOAD
    assert target.stat().st_mode & 0o444 == 0o444  # readable by the worker user
    recorded = json.loads((tmp_path / "volume" / "models" / "models.recorded.json").read_text())
    [model] = recorded["models"]
    assert model["sha256"] == hashlib.sha256(PAYLOAD).hexdigest() and model["revision"] == "c" * 40
    assert "start.sh: fill exit status 0" in output


def test_unverified_weights_are_refused_unless_explicitly_allowed(tmp_path: Path, file_server: FileServer) -> None:
    status, output = start(tmp_path, file_server, START_MODE="fill")
    assert status is None
    assert "refusing an unverified file" in output and "start.sh: fill exit status 1" in output
    assert not (tmp_path / "volume" / "models" / "liveportrait" / "w.safetensors").exists()


def test_an_unknown_mode_stops_with_the_valid_ones(tmp_path: Path, file_server: FileServer) -> None:
    status, output = start(tmp_path, file_server, START_MODE="serve")
    assert status == 2
    assert "unknown START_MODE=serve (worker, fill, smoke, idle)" in output


def test_smoke_on_a_pod_finds_the_volume_where_the_worker_reads_weights(
    tmp_path: Path, file_server: FileServer
) -> None:
    # A pod mounts the volume at /workspace; the worker reads /runpod-volume/models (here under tmp_path).
    volume = tmp_path / "volume" / "models"
    (volume / "checkpoints").mkdir(parents=True)
    (volume / "checkpoints" / "sd.safetensors").write_bytes(b"w")
    worker_models = tmp_path / "runpod-volume" / "models"
    status, output = start(
        tmp_path, file_server, START_MODE="smoke", SMOKE_ARGS="--help", RUN_AS_UID="0",
        VOLUME_MOUNT_MODELS=str(worker_models),
    )  # fmt: skip
    assert status is None, output  # gpu_smoke --help ran, then the pod idles
    assert "GPU acceptance check" in output
    assert (worker_models / "checkpoints" / "sd.safetensors").read_bytes() == b"w"
