"""comfy_image/gpu_check.py on this CPU-only machine: a clear refusal, and the DEVICE=cpu escape hatch."""

from __future__ import annotations

import os
import subprocess
import sys

from handler.settings import REPO_ROOT


def run(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "comfy_image.gpu_check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "", **env},
    )


def test_no_gpu_stops_the_worker_with_the_reason() -> None:
    result = run(DEVICE="auto")

    assert result.returncode == 1
    assert "GPU check failed: CUDA is not available" in result.stderr


def test_cpu_device_skips_the_check() -> None:
    result = run(DEVICE="cpu")

    assert result.returncode == 0
    assert "GPU check skipped" in result.stderr
