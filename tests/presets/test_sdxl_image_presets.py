"""sdxl_variation and sdxl_upscale through the real worker and ComfyUI engine on CPU (tiny random checkpoint).

A random model cannot show that a variation "looks like" its source, so these check what a user can rely on:
the result's size, that seed and denoise decide the image, the echoed effective params, and every refusal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from handler.errors import JobError
from handler.files import JobFiles
from handler.presets import prepare_preset
from tests.handler.helpers import b64_image, failed, ok, png, run_job
from workflows import sdxl_upscale, sdxl_variation
from workflows.contract import ErrorCode
from workflows.preset import apply_binding


def picture(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth colour picture with some texture, like a generated image rather than noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, np.full_like(x, 128.0)], axis=-1)
    noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(noisy)


def pixels(item_data: str | None) -> np.ndarray:
    return np.asarray(png(item_data or "").convert("RGB"), dtype=np.int16)


def differ(a: np.ndarray, b: np.ndarray) -> bool:
    """More than 1% of the pixels changed (a random VAE decodes a low-denoise result mostly dark)."""
    return a.shape == b.shape and float((a != b).any(axis=-1).mean()) > 0.01


async def images(worker: Any, preset: str, **params: Any) -> tuple[list[np.ndarray], dict[str, Any], list[str]]:
    out = ok(await run_job(worker, {"preset": preset, "params": {"prompt": "a red fox", "steps": 2, **params}}))
    assert out.preset == preset and out.params is not None
    return [pixels(item.data) for item in out.outputs], out.params, out.warnings


async def test_variation_keeps_the_size_and_seed_and_denoise_decide_the_image(sdxl_worker: Any) -> None:
    source = b64_image(picture(128, 64))
    [first], params, warnings = await images(sdxl_worker, "sdxl_variation", image=source, seed=3)
    [again], _, _ = await images(sdxl_worker, "sdxl_variation", image=source, seed=3)
    [other], _, _ = await images(sdxl_worker, "sdxl_variation", image=source, seed=4)
    [stronger], _, _ = await images(sdxl_worker, "sdxl_variation", image=source, seed=3, denoise=0.8)
    assert first.shape == (64, 128, 3) and first.std() > 1
    assert np.array_equal(first, again), "same seed, same variation"
    assert differ(first, other), "a new seed, a new variation"
    assert differ(first, stronger), "denoise changes the result"
    assert warnings == []
    assert params["seed"] == 3 and params["denoise"] == sdxl_variation.DENOISE_DEFAULT
    assert (params["width"], params["height"], params["style"]) == (128, 64, "none")
    assert {"steps", "cfg", "prompt", "negative_prompt", "batch_size"} <= set(params)
    assert "image" not in params, "megabytes of base64 are not echoed back"


async def test_variation_batch_gives_distinct_images(sdxl_worker: Any) -> None:
    found, params, _ = await images(sdxl_worker, "sdxl_variation", image=b64_image(picture(64, 64)), batch_size=2)
    assert len(found) == 2 and differ(found[0], found[1])
    assert params["batch_size"] == 2


async def test_upscale_doubles_each_side(sdxl_worker: Any) -> None:
    [result], params, _ = await images(sdxl_worker, "sdxl_upscale", image=b64_image(picture(96, 64)), seed=1)
    assert result.shape == (128, 192, 3) and result.std() > 1
    assert (params["width"], params["height"]) == (192, 128)
    assert params["denoise"] == sdxl_upscale.DENOISE_DEFAULT and params["steps"] == 2 and params["seed"] == 1


async def test_upscale_decodes_in_tiles_that_join_into_the_full_image(
    sdxl_worker: Any, tiny_checkpoint: str, tmp_path: Path
) -> None:
    """The production tile (1024 px) covers a test image whole; 64 px tiles make the tiled code paths run."""
    source = b64_image(picture(96, 96))
    settings = sdxl_worker.settings.model_copy(update={"sdxl_checkpoint": tiny_checkpoint})
    files = JobFiles("tiles", tmp_path / "jobs")
    job = prepare_preset("sdxl_upscale", {"image": source, "steps": 2, "seed": 5}, files, settings)
    tiles = {(node, name): value for node in ("8", "12") for name, value in (("tile_size", 64), ("overlap", 16))}
    graph = apply_binding(apply_binding(job.prompt, tiles), {sdxl_upscale.IMAGE_INPUT: "source.png"})
    out = ok(await run_job(sdxl_worker, {"workflow": graph, "images": [{"name": "source.png", "image": source}]}))
    [item] = out.outputs
    tiled = pixels(item.data)
    assert tiled.shape == (192, 192, 3)
    quarter = tiled[:96, :96].std(), tiled[96:, 96:].std()
    assert min(quarter) > 1, "every tile was decoded, none left blank"


async def test_upscale_of_an_image_over_the_budget_is_refused_before_the_gpu(sdxl_worker: Any) -> None:
    too_big = b64_image(picture(1200, 900))  # 1.08 MP: the 2x result would exceed 2048x2048
    error = failed(await run_job(sdxl_worker, {"preset": "sdxl_upscale", "params": {"image": too_big}}))
    assert error.code == ErrorCode.INVALID_INPUT
    assert error.details["field"] == "params.image"
    assert "1200x900" in error.message and "1024x1024" in error.message


@pytest.mark.parametrize("preset", ["sdxl_variation", "sdxl_upscale"])
async def test_image_that_is_not_an_image_is_invalid_input(sdxl_worker: Any, preset: str) -> None:
    error = failed(await run_job(sdxl_worker, {"preset": preset, "params": {"image": "bm90IGFuIGltYWdl"}}))
    assert error.code == ErrorCode.INVALID_INPUT
    assert error.details["field"] == "params.image"


@pytest.mark.parametrize("preset", ["sdxl_variation", "sdxl_upscale"])
async def test_image_too_small_is_invalid_input(sdxl_worker: Any, preset: str) -> None:
    error = failed(await run_job(sdxl_worker, {"preset": preset, "params": {"image": b64_image(picture(40, 200))}}))
    assert error.code == ErrorCode.INVALID_INPUT
    assert "40x200" in error.message


def test_variation_scales_a_large_image_down_and_says_so(tmp_path: Path) -> None:
    from handler.settings import WorkerSettings

    files = JobFiles("big", tmp_path / "jobs")
    job = prepare_preset("sdxl_variation", {"image": b64_image(picture(2000, 1003))}, files, WorkerSettings())
    assert job.params is not None
    width, height = job.params["width"], job.params["height"]
    assert width % 8 == 0 and height % 8 == 0
    assert width * height <= sdxl_variation.MAX_PIXELS and abs(width / height - 2000 / 1003) < 0.02
    [warning] = job.warnings
    assert "2000x1003" in warning
    staged = Image.open(files.input_dir / "source.png")
    assert staged.size == (width, height)


@pytest.mark.parametrize(
    ("preset", "params", "field"),
    [
        ("sdxl_variation", {"denoise": 0.95}, "params.denoise"),
        ("sdxl_variation", {"denoise": 0.01}, "params.denoise"),
        ("sdxl_upscale", {"denoise": 0.7}, "params.denoise"),
        ("sdxl_variation", {"batch_size": 5}, "params.batch_size"),
        ("sdxl_upscale", {"style": "vaporwave"}, "params.style"),
        ("sdxl_upscale", {"aspect_ratio": "1:1"}, "params.aspect_ratio"),
        ("sdxl_variation", {"steps": 61}, "params.steps"),
    ],
)
def test_params_outside_the_preset_limits_are_refused(
    preset: str, params: dict[str, Any], field: str, tmp_path: Path
) -> None:
    from handler.settings import WorkerSettings

    files = JobFiles("limits", tmp_path / "jobs")
    with pytest.raises(JobError) as caught:
        prepare_preset(preset, {"image": b64_image(picture(64, 64)), **params}, files, WorkerSettings())
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert caught.value.details["field"] == field
    assert not files.input_dir.exists(), "nothing is staged for a refused job"


def test_missing_image_is_named(tmp_path: Path) -> None:
    from handler.settings import WorkerSettings

    files = JobFiles("missing", tmp_path / "jobs")
    with pytest.raises(JobError) as caught:
        prepare_preset("sdxl_upscale", {"prompt": "a fox"}, files, WorkerSettings())
    assert caught.value.details["field"] == "params.image"


@pytest.mark.parametrize(
    ("size", "accepted"),
    [((1024, 1024), True), ((1536, 640), True), ((1025, 1024), False), ((1544, 600), False)],
)
def test_upscale_budget_edges(size: tuple[int, int], accepted: bool, tmp_path: Path) -> None:
    """Every sdxl size fits (the result at most 2048x2048); one pixel more, or a side over 1536, does not."""
    from handler.settings import WorkerSettings

    files = JobFiles("edges", tmp_path / "jobs")
    params = {"image": b64_image(picture(*size))}
    if accepted:
        job = prepare_preset("sdxl_upscale", params, files, WorkerSettings())
        assert job.params is not None and (job.params["width"], job.params["height"]) == (size[0] * 2, size[1] * 2)
        return
    with pytest.raises(JobError) as caught:
        prepare_preset("sdxl_upscale", params, files, WorkerSettings())
    assert caught.value.code == ErrorCode.INVALID_INPUT and f"{size[0]}x{size[1]}" in caught.value.message
