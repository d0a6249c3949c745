"""The real engine in-process: model-free graphs and a real sampler run, every output kind returned."""

from __future__ import annotations

import base64
import io
from typing import Any

import av
import numpy as np

from tests.handler import graphs
from tests.handler.helpers import failed, ok, png, run_job


async def test_image_output_is_returned_as_png(worker: Any) -> None:
    out = ok(await run_job(worker, {"workflow": graphs.empty_image(64, 48, 0xFF0000)}))
    [item] = out.outputs
    assert (item.node_id, item.kind, item.content_type) == ("2", "image", "image/png")
    image = png(item.data or "")
    assert image.size == (64, 48)
    assert image.convert("RGB").getpixel((10, 10)) == (255, 0, 0)
    assert item.size == len(base64.b64decode(item.data or ""))


async def test_identical_jobs_both_return_their_output(worker: Any) -> None:
    # ComfyUI's cache would skip an identical save node; each job has its own output folder instead.
    first = ok(await run_job(worker, {"workflow": graphs.empty_image(color=0x0000FF)}))
    second = ok(await run_job(worker, {"workflow": graphs.empty_image(color=0x0000FF)}))
    assert len(first.outputs) == len(second.outputs) == 1
    assert first.outputs[0].data == second.outputs[0].data, "same pixels, and no per-job metadata in the PNG"


async def test_video_output_is_an_h264_mp4(worker: Any) -> None:
    out = ok(await run_job(worker, {"workflow": graphs.video(frames=12, fps=12)}))
    [item] = out.outputs
    assert (item.kind, item.content_type) == ("video", "video/mp4")
    assert item.filename and item.filename.endswith(".mp4")
    with av.open(io.BytesIO(base64.b64decode(item.data or ""))) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(stream))
    assert len(frames) == 12
    assert frames[0].width == 64


async def test_text_output_is_returned(worker: Any) -> None:
    out = ok(await run_job(worker, {"workflow": graphs.text()}))
    [item] = out.outputs
    assert item.kind == "text"
    assert item.text is not None and "32" in item.text


async def test_batch_of_images_returns_each(worker: Any) -> None:
    out = ok(await run_job(worker, {"workflow": graphs.empty_image(batch=3)}))
    assert [item.kind for item in out.outputs] == ["image"] * 3
    assert len({item.filename for item in out.outputs}) == 3


async def test_sampler_runs_with_tiny_checkpoint(worker: Any, tiny_checkpoint: str) -> None:
    images = []
    for seed in (1, 2, 1):
        out = ok(await run_job(worker, {"workflow": graphs.sampler(tiny_checkpoint, seed=seed)}))
        images.append(np.asarray(png(out.outputs[0].data or "").convert("RGB"), dtype=np.int16))
    assert images[0].shape == (64, 64, 3)
    assert images[0].std() > 1, "a random model still draws something, not a flat image"
    assert np.abs(images[0] - images[1]).mean() > 1, "different seeds, different images"
    assert np.array_equal(images[0], images[2]), "same seed, same image"


async def test_sampler_reports_progress(worker: Any, tiny_checkpoint: str, progress_sink: Any) -> None:
    ok(await run_job(worker, {"workflow": graphs.sampler(tiny_checkpoint, seed=7, steps=3)}, job_id="progress-1"))
    events = progress_sink.for_job("progress-1")
    assert [e["step"] for e in events if e["node_type"] == "KSampler"] == [1, 2, 3]
    assert events[-1]["percent"] == 100.0
    assert all(e["node"] == "3" for e in events if e["node_type"] == "KSampler")


async def test_missing_checkpoint_is_model_missing(worker: Any) -> None:
    error = failed(await run_job(worker, {"workflow": graphs.sampler("sd_xl_base_1.0.safetensors")}))
    assert error.code == "MODEL_MISSING"
    assert "sd_xl_base_1.0.safetensors" in error.message
    assert "python -m comfy_image.fetch_models --dest /runpod-volume/models --only sdxl-base" in error.message
    assert error.retryable is False
