"""Named presets (``preset`` + ``params`` in the job input) turned into a ComfyUI graph.

``prepare_preset`` looks the preset up in ``workflows.presets.PRESETS``, validates the params with the preset's
own model, then hands them to the preset's prepare function from ``PREPARERS``. A prepare function does what needs
the worker: its configuration (model file names), the job's file area (staging an input photo), and checks that
must run before the graph (a face pre-check). Adding a preset = one entry in PREPARERS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from handler.errors import ErrorCode, JobError
from handler.files import JobFiles
from handler.liveportrait import prepare_liveportrait
from handler.prepared import PreparedJob
from handler.settings import WorkerSettings
from handler.source_image import upscale_source, variation_source
from workflows import sdxl, sdxl_upscale, sdxl_variation
from workflows.preset import Preset
from workflows.presets import PRESETS

# (the preset, its validated params, the job's files, the worker's settings) -> the job to run
PrepareFn = Callable[[Preset[Any], Any, JobFiles, WorkerSettings], PreparedJob]


def prepare_sdxl(
    preset: Preset[Any], params: sdxl.SdxlParams, files: JobFiles, settings: WorkerSettings
) -> PreparedJob:
    graph = preset.render(params, overrides={sdxl.CHECKPOINT_INPUT: settings.sdxl_checkpoint})
    return PreparedJob(prompt=graph, preset=preset.name, params=preset.effective_params(params))


def prepare_sdxl_variation(
    preset: Preset[Any], params: sdxl_variation.VariationParams, files: JobFiles, settings: WorkerSettings
) -> PreparedJob:
    image, warnings = variation_source(params.image, settings)
    staged = files.stage_image("source", image)
    overrides = {sdxl.CHECKPOINT_INPUT: settings.sdxl_checkpoint, sdxl_variation.IMAGE_INPUT: staged}
    graph = preset.render(params, overrides=overrides)
    effective = {**preset.effective_params(params), "width": image.width, "height": image.height}
    return PreparedJob(prompt=graph, preset=preset.name, params=effective, warnings=warnings)


def prepare_sdxl_upscale(
    preset: Preset[Any], params: sdxl_upscale.UpscaleParams, files: JobFiles, settings: WorkerSettings
) -> PreparedJob:
    image = upscale_source(params.image, settings)
    staged = files.stage_image("source", image)
    overrides = {sdxl.CHECKPOINT_INPUT: settings.sdxl_checkpoint, sdxl_upscale.IMAGE_INPUT: staged}
    graph = preset.render(params, overrides=overrides)
    size = {"width": image.width * sdxl_upscale.SCALE, "height": image.height * sdxl_upscale.SCALE}
    return PreparedJob(prompt=graph, preset=preset.name, params={**preset.effective_params(params), **size})


PREPARERS: dict[str, PrepareFn] = {
    "sdxl": prepare_sdxl,
    "sdxl_variation": prepare_sdxl_variation,
    "sdxl_upscale": prepare_sdxl_upscale,
    "liveportrait": prepare_liveportrait,
}


def prepare_preset(
    name: str, params: Mapping[str, Any] | None, files: JobFiles, settings: WorkerSettings
) -> PreparedJob:
    """Validate ``params`` for preset ``name`` and build its graph; bad input raises JobError(INVALID_INPUT)."""
    preset = PRESETS.get(name)
    prepare = PREPARERS.get(name)
    if preset is None or prepare is None:
        known = ", ".join(n for n in PRESETS if n in PREPARERS)
        raise JobError(ErrorCode.INVALID_INPUT, f"Unknown preset {name[:64]!r}. Known: {known}", field="preset")
    return prepare(preset, validate_params(preset, params), files, settings)


def validate_params(preset: Preset[Any], params: Mapping[str, Any] | None) -> BaseModel:
    """The preset's params model, or JobError(INVALID_INPUT) naming every bad field as ``params.<field>``."""
    try:
        validated: BaseModel = preset.validate(params)
    except ValidationError as exc:
        problems = [(_field_path(err["loc"]), _clean_message(err["msg"])) for err in exc.errors()]
        message = "; ".join(f"{path}: {msg}" for path, msg in problems)
        raise JobError(
            ErrorCode.INVALID_INPUT,
            message,
            field=problems[0][0],
            errors=[{"field": path, "message": msg} for path, msg in problems],
        ) from None
    return validated


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(["params", *(str(part) for part in loc)])


def _clean_message(msg: str) -> str:
    # pydantic prefixes messages of our own validators with "Value error, ".
    return msg.removeprefix("Value error, ")
