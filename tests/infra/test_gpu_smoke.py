"""scripts/gpu_smoke.py's plumbing on this CPU machine: real Worker, real ComfyUI, a raw workflow job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from handler.settings import REPO_ROOT

RAW_JOB = {
    "workflow": {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 255}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "smoke"}},
    },
    "delivery": "base64",
}


@pytest.mark.slow
def test_smoke_runs_jobs_saves_outputs_and_writes_a_summary(tmp_path: Path, comfyui_path: Path) -> None:
    job = tmp_path / "raw.json"
    job.write_text(json.dumps(RAW_JOB))
    out = tmp_path / "out"
    env = {
        **os.environ,
        "COMFYUI_PATH": str(comfyui_path),
        "DEVICE": "cpu",
        "WORK_DIR": str(tmp_path / "work"),
        "WARMUP": "empty",
        "S3_BUCKET": "",
        "LOG_JSON": "false",
    }
    env.pop("S3_BUCKET")
    command = [sys.executable, "scripts/gpu_smoke.py", "--no-sdxl", "--job", str(job), "--allow-cpu", "--out", str(out)]

    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)

    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cold_start_s"] > 0 and summary["warmup"] == "empty"
    assert [(r["job"], r["run"]) for r in summary["jobs"]] == [("raw", 1), ("raw", 2)]
    for record in summary["jobs"]:
        assert "error" not in record
        saved = [Path(p) for p in record["saved"]]
        assert len(saved) == 1 and saved[0].read_bytes().startswith(b"\x89PNG")
    assert "raw" in summary["model_load_estimate_s"]


def test_without_a_gpu_it_refuses_unless_told(tmp_path: Path) -> None:
    command = [sys.executable, "scripts/gpu_smoke.py", "--no-sdxl", "--job", str(tmp_path / "none.json")]
    (tmp_path / "none.json").write_text(json.dumps(RAW_JOB))

    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode != 0
    assert "no CUDA device" in result.stderr
