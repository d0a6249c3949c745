"""Timing primitives shared by the benchmark scripts: cold-start children and in-process jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import COMFYUI, REPO_ROOT
from tests.handler import graphs  # imported before ComfyUI's own `tests` package lands on sys.path

CHILDREN = REPO_ROOT / "benchmarks" / "children.py"


def empty_image(color: int = 0, size: int = 64, prefix: str = "bench") -> dict[str, Any]:
    """EmptyImage -> SaveImage; a different ``color`` per job keeps ComfyUI's cache from skipping the work."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": size, "height": size, "batch_size": 1, "color": color},
        },
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}},
    }


def sampler(ckpt: str, seed: int, steps: int = 4, size: int = 64, prefix: str = "sdxl") -> dict[str, Any]:
    """The production SDXL graph's shape on the tests' tiny checkpoint; a new seed per job re-runs the sampler."""
    graph = graphs.sampler(ckpt, seed=seed, steps=steps, size=size)
    graph["9"]["inputs"]["filename_prefix"] = prefix
    return graph


def template_sampler(ckpt: str, seed: int, size: int = 64, prefix: str = "sdxl") -> dict[str, Any]:
    """The production ``sdxl`` template with the preset's default settings (steps, cfg, sampler, scheduler,
    negative prompt) on the tests' tiny checkpoint, at ``size`` x ``size`` (1024 would take minutes on a CPU)."""
    from workflows.presets import PRESETS

    preset = PRESETS["sdxl"]
    graph = preset.render(preset.validate({"prompt": "a lighthouse on a cliff at sunset", "seed": seed}))
    graph["4"]["inputs"]["ckpt_name"] = ckpt
    graph["5"]["inputs"].update(width=size, height=size)
    graph["9"]["inputs"]["filename_prefix"] = prefix
    return graph


def template_steps() -> str:
    """The preset's sampler settings, for table labels."""
    from workflows.presets import PRESETS

    k = PRESETS["sdxl"].render(PRESETS["sdxl"].validate({"prompt": "x", "seed": 1}))["3"]["inputs"]
    return f"{k['steps']} steps, {k['sampler_name']}/{k['scheduler']}, cfg {k['cfg']}"


@dataclass
class ColdRun:
    ready_s: float
    done_s: float


@dataclass
class Child:
    """One way to start a process that can take a job (``argv``), timed from spawn to READY and DONE lines."""

    name: str
    mode: str
    env: dict[str, str] = field(default_factory=dict)

    def run(self, job: dict[str, Any], timeout_s: float = 180.0) -> ColdRun:
        with tempfile.TemporaryDirectory(prefix="bench-cold-") as work:
            env = {
                **os.environ,
                "COMFYUI_PATH": str(COMFYUI),
                "DEVICE": "cpu",
                "WORK_DIR": work,
                **self.env,
            }
            return _time_child([sys.executable, str(CHILDREN), self.mode, json.dumps(job)], env, timeout_s)


def _time_child(argv: list[str], env: dict[str, str], timeout_s: float) -> ColdRun:
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=REPO_ROOT, text=True, bufsize=1
    )
    ready = done = None
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            now = time.perf_counter() - started
            if line.startswith("READY"):
                ready = now
            elif line.startswith("DONE"):
                done = now
                if line.split()[1:] != ["ok"]:
                    raise RuntimeError(f"{argv[2]}: first job failed")
                break
            if now > timeout_s:
                raise TimeoutError(f"{argv[2]} took over {timeout_s} s")
    finally:
        proc.kill()
        proc.wait()
    if ready is None or done is None:
        raise RuntimeError(f"{argv[2]} exited without READY/DONE")
    return ColdRun(ready, done)


def new_id(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


def ensure_dirs(*paths: Path) -> None:
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
