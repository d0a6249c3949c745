"""The benchmark scripts still run end to end (one run each, quick mode, results to a scratch file).

Skipped unless BENCH_SMOKE=1: even in quick mode the two scripts boot ComfyUI three times (the in-process worker
twice, ComfyUI's HTTP server once): about 30 s of CPU time and 40 s of wall time on the 2-core development machine
(over a minute while other tests run), above the 20 s this suite allows for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from handler.settings import REPO_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("BENCH_SMOKE") != "1", reason="set BENCH_SMOKE=1 (boots ComfyUI 3x, >20 s)"),
]


@pytest.mark.parametrize("script", ["worker_overhead.py", "worker_vs_server.py"])
def test_script_writes_its_section(script: str, tmp_path: Path) -> None:
    pytest.importorskip("websocket", reason="requirements/bench.txt is not installed")
    docs = tmp_path / "benchmarks.md"
    argv = [sys.executable, str(REPO_ROOT / "benchmarks" / script), "--runs", "1", "--warmup", "0", "--quick"]
    done = subprocess.run([*argv, "--docs", str(docs)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    text = docs.read_text()
    assert "## Worker" in text and "| nproc |" in text
    assert f"`benchmarks/{script}`" in text
    assert "| image 64x64" in text and "x** |" in text  # a row with its ratio in bold
