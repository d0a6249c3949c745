"""The warm-up job the image runs at boot (WARMUP=sdxl) is a valid job input for the sdxl preset."""

from __future__ import annotations

import json

import pytest

from handler.schema import JobInput
from handler.settings import REPO_ROOT

WARMUP = REPO_ROOT / "comfy_image" / "warmup" / "sdxl.json"


def test_sdxl_warmup_is_a_valid_job_input() -> None:
    job = JobInput.model_validate(json.loads(WARMUP.read_text()))
    assert job.preset == "sdxl"


def test_sdxl_warmup_params_fit_the_preset() -> None:
    presets = pytest.importorskip("workflows.presets", reason="preset catalogue not merged yet")
    preset = presets.get_preset("sdxl")
    assert preset is not None
    preset.validate(json.loads(WARMUP.read_text())["params"])
