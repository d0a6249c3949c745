"""benchmarks/bot_latency.py still runs end to end at tiny scale (no timing assertions: only that it measured).

One job per mode through the real bot, the local endpoint and its real worker on the tiny checkpoint. The
same-run baseline (a temporary git worktree of a ref, measured by this checkout's driver) boots the worker a
second time, so that variant runs only with BENCH_SMOKE=1, like the other benchmark smoke tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from handler.settings import REPO_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed"),
    pytest.mark.skipif(not (REPO_ROOT / ".comfyui").exists(), reason="ComfyUI is not provided"),
]
ROW = re.compile(
    r"^\| (?P<side>[^|]+) \| (?P<mode>polling|webhook) \| (?P<batch>sequential|concurrent) \d+ \| \d+ ms \|", re.M
)


def run(tmp_path: Path, *extra: str) -> str:
    docs = tmp_path / "benchmarks.md"
    argv = [
        sys.executable,
        str(REPO_ROOT / "benchmarks" / "bot_latency.py"),
        "--jobs",
        "1",
        "--concurrent",
        "2",
        "--rounds",
        "1",
    ]
    argv += ["--warmup", "0", "--timeout-s", "120", "--write", "--docs", str(docs), *extra]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return docs.read_text()


def test_measures_both_modes_on_the_working_tree(tmp_path: Path) -> None:
    text = run(tmp_path, "--baseline-ref", "none")
    assert "## Latency around the GPU (benchmarks/bot_latency.py)" in text
    rows = {(m["side"].split(" (")[0], m["mode"], m["batch"]) for m in ROW.finditer(text)}
    assert rows == {
        ("working tree", mode, batch) for mode in ("polling", "webhook") for batch in ("sequential", "concurrent")
    }


@pytest.mark.skipif(os.environ.get("BENCH_SMOKE") != "1", reason="set BENCH_SMOKE=1 (boots the worker twice)")
def test_baseline_ref_is_measured_in_the_same_run(tmp_path: Path) -> None:
    text = run(tmp_path, "--baseline-ref", "HEAD", "--modes", "webhook")
    sides = {m["side"].split(" (")[0] for m in ROW.finditer(text)}
    assert sides == {"baseline HEAD", "working tree"}
    assert re.search(r"^\| \| webhook \| sequential \| \d+\.\d\dx \| \d+\.\d\dx \|", text, re.M)
    listed = subprocess.run(["git", "worktree", "list"], cwd=REPO_ROOT, capture_output=True, text=True).stdout
    assert "bench-baseline-" not in listed  # the temporary worktree is gone
