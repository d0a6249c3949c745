"""The local endpoint's start-up output fits on one screen: one line per optional node module that cannot import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from handler.settings import REPO_ROOT

SCREEN_LINES = 30


def test_local_endpoint_start_up_output_fits_one_screen() -> None:
    env = os.environ | {"LOG_JSON": "true", "LOCAL_ENDPOINT_WORKERS": "1", "WARMUP": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "handler.local_endpoint", "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 240
    try:
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if '"worker ready"' in line:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    output = "\n".join(lines)
    assert '"worker ready"' in output, output
    assert "Traceback" not in output
    assert len(lines) <= SCREEN_LINES, output
    imported = json.loads(next(line for line in lines if '"comfyui imported"' in line))
    skipped = [line for line in lines if "optional node module not loaded: " in line]
    assert len(skipped) == len(imported["failed"])  # each failed module named once, with its reason
    assert all("(No module named" in line for line in skipped)
