"""The sampler and scheduler names we offer exist in the pinned ComfyUI (read from its source, no import)."""

from __future__ import annotations

import ast

from handler.settings import WorkerSettings
from workflows import sdxl


def _comfy_sampling_names() -> tuple[set[str], set[str]]:
    source = (WorkerSettings().comfyui_path / "comfy" / "samplers.py").read_text()
    samplers: set[str] = set()
    schedulers: set[str] = set()
    for stmt in ast.parse(source).body:
        if not isinstance(stmt, ast.Assign) or not isinstance(stmt.targets[0], ast.Name):
            continue
        target = stmt.targets[0].id
        if target == "KSAMPLER_NAMES":
            samplers |= set(ast.literal_eval(stmt.value))
        elif target == "SAMPLER_NAMES" and isinstance(stmt.value, ast.BinOp):
            samplers |= set(ast.literal_eval(stmt.value.right))
        elif target == "SCHEDULER_HANDLERS" and isinstance(stmt.value, ast.Dict):
            schedulers |= {ast.literal_eval(key) for key in stmt.value.keys if key is not None}
    return samplers, schedulers


def test_offered_samplers_and_schedulers_exist_in_comfyui() -> None:
    samplers, schedulers = _comfy_sampling_names()
    assert "dpmpp_2m" in samplers and "karras" in schedulers  # the parse found the lists
    assert set(sdxl.SAMPLERS) <= samplers
    assert set(sdxl.SCHEDULERS) <= schedulers
