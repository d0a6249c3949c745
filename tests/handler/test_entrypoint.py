"""``python -m handler`` in runpod's local one-shot mode, and the progress throttle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from handler.engine import ProgressEvent
from handler.progress import ProgressThrottle
from handler.settings import REPO_ROOT
from tests.handler import graphs


@pytest.mark.slow
def test_module_runs_a_test_input_once(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "WORK_DIR": str(tmp_path),
        "DEVICE": "cpu",
        "LOG_JSON": "true",
        "S3_SECRET_ACCESS_KEY": "very-secret-value",
        "S3_BUCKET": "",
        "WARMUP": "empty",
    }
    job = {"input": {"workflow": graphs.empty_image(16, 16)}, "id": "local-test"}
    done = subprocess.run(
        [sys.executable, "-m", "handler", "--test_input", json.dumps(job)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    logs = done.stdout + done.stderr
    assert done.returncode == 0, logs[-3000:]
    assert '"kind": "image"' in logs or "'kind': 'image'" in logs
    ours = [json.loads(line) for line in logs.splitlines() if line.startswith('{"ts"')]
    done_lines = [line for line in ours if line["msg"] == "job done"]
    assert [line["job_id"] for line in done_lines] == ["warmup", "local-test"]
    assert "very-secret-value" not in logs
    warmups = [line for line in ours if line["msg"] == "warm-up done"]
    assert warmups and warmups[0]["error"] is None, "the WARMUP job ran at boot, before the test input"


def test_progress_is_throttled_to_the_interval() -> None:
    now = [0.0]
    sent: list[dict[str, object]] = []
    throttle = ProgressThrottle(sent.append, interval_s=1.0, clock=lambda: now[0])
    for step in range(1, 21):
        throttle(ProgressEvent(node="3", node_type="KSampler", step=step, max=20))
        now[0] += 0.25
    assert [s["step"] for s in sent] == [1, 5, 9, 13, 17]
    assert sent[1] == {"node": "3", "node_type": "KSampler", "step": 5, "max": 20, "percent": 25.0}
