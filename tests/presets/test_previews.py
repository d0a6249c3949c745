"""Live previews in the worker's progress updates, from a real sampler run on the tiny checkpoint."""

from __future__ import annotations

import base64
import io
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from handler import previews
from tests.handler.helpers import b64_image, ok, run_job
from tests.presets.test_sdxl_engine import render
from workflows.contract import Progress


def jpeg(data: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert image.format == "JPEG"
    return image


async def updates(worker: Any, sink: Any, job: dict[str, Any]) -> list[Progress]:
    job_id = uuid.uuid4().hex[:12]
    ok(await run_job(worker, job, job_id=job_id))
    return [Progress.model_validate(update) for update in sink.for_job(job_id)]


@pytest.fixture
def every_job_previews(sdxl_worker: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(sdxl_worker.settings, "previews", "all")
    monkeypatch.setattr(sdxl_worker.settings, "preview_interval_s", 0.0)
    return sdxl_worker


async def test_sampler_steps_carry_a_small_jpeg_preview(
    every_job_previews: Any, progress_sink: Any, tiny_checkpoint: str, tmp_path: Path
) -> None:
    graph, _ = render(every_job_previews, tiny_checkpoint, tmp_path, steps=4)
    seen = await updates(every_job_previews, progress_sink, {"workflow": graph})
    sampler = [u for u in seen if u.node_type == "KSampler"]
    assert len(sampler) == 4 and all(u.preview for u in sampler)
    pictures = [jpeg(u.preview or "") for u in sampler]
    assert all(p.size == (256, 128) for p in pictures), "the 128x64 image's shape, 256 px on the longer side"
    assert all(len(base64.b64decode(u.preview or "")) < 8 * 1024 for u in sampler), "a few KB"
    assert pictures[0].tobytes() != pictures[-1].tobytes(), "the preview follows the sampler"
    assert not any(u.preview for u in seen if u.node_type != "KSampler"), "only samplers have something to show"


async def test_previews_are_sent_at_most_once_per_interval(
    every_job_previews: Any, progress_sink: Any, tiny_checkpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(every_job_previews.settings, "preview_interval_s", 3600.0)
    graph, _ = render(every_job_previews, tiny_checkpoint, tmp_path, steps=4)
    seen = await updates(every_job_previews, progress_sink, {"workflow": graph})
    assert len([u for u in seen if u.node_type == "KSampler"]) == 4
    assert len([u for u in seen if u.preview]) == 1


async def test_by_default_preset_jobs_have_previews_and_raw_workflows_do_not(
    sdxl_worker: Any, progress_sink: Any, tiny_checkpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sdxl_worker.settings.previews == "presets"
    monkeypatch.setattr(sdxl_worker.settings, "preview_interval_s", 0.0)
    graph, _ = render(sdxl_worker, tiny_checkpoint, tmp_path, steps=2)
    assert not any(u.preview for u in await updates(sdxl_worker, progress_sink, {"workflow": graph}))
    image = b64_image(Image.new("RGB", (64, 64), (200, 120, 40)))
    preset_job = {"preset": "sdxl_variation", "params": {"image": image, "steps": 2}}
    assert any(u.preview for u in await updates(sdxl_worker, progress_sink, preset_job))


async def test_previews_off_gives_the_sampler_no_previewer(
    every_job_previews: Any, progress_sink: Any, tiny_checkpoint: str, tmp_path: Path
) -> None:
    graph, _ = render(every_job_previews, tiny_checkpoint, tmp_path, steps=2)
    previews.install(enabled=False)  # what PREVIEWS=off does at boot
    try:
        seen = await updates(every_job_previews, progress_sink, {"workflow": graph})
    finally:
        previews.install(enabled=True)
    assert [u.step for u in seen if u.node_type == "KSampler"] == [1, 2]
    assert not any(u.preview for u in seen)


async def test_an_installed_taesd_decoder_draws_the_previews(
    every_job_previews: Any,
    progress_sink: Any,
    tiny_checkpoint: str,
    tmp_path: Path,
    models_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With models/vae_approx/<format>_decoder.* present (production: taesdxl_decoder), TAESD decodes previews."""
    import torch
    from comfy.taesd.taesd import TAESD
    from safetensors.torch import save_file

    graph, _ = render(every_job_previews, tiny_checkpoint, tmp_path, steps=2, seed=7)
    approximated = await updates(every_job_previews, progress_sink, {"workflow": graph})
    graph["3"]["inputs"]["cfg"] = 6.0  # the same sampling but not cached (ComfyUI would skip an identical graph)
    torch.manual_seed(0)
    decoder = {k: v.contiguous() for k, v in TAESD(latent_channels=16).taesd_decoder.state_dict().items()}
    installed = models_dir / "vae_approx" / "taesd3_decoder.safetensors"  # the tiny checkpoint is SD3-family
    installed.parent.mkdir(exist_ok=True)
    save_file(decoder, str(installed))
    caplog.set_level(logging.INFO, logger="handler.previews")
    try:
        decoded = await updates(every_job_previews, progress_sink, {"workflow": graph})
    finally:
        installed.unlink()
        previews._taesd_previewer.cache_clear()
    [before, after] = [[u.preview for u in seen if u.preview] for seen in (approximated, decoded)]
    assert len(before) == len(after) == 2
    assert jpeg(after[-1] or "").size == (256, 128)
    loaded = [r for r in caplog.records if r.getMessage() == "taesd previews"]
    assert [r.__dict__["fields"]["decoder"] for r in loaded] == [str(installed)], "loaded once, from the file"
