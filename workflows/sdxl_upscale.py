"""The ``sdxl_upscale`` preset: an image at twice its size, re-detailed by SDXL (templates/sdxl_upscale.json).

LoadImage (10) -> ImageScaleBy (11, lanczos, x2) -> VAEEncodeTiled (12) -> KSampler (3, low denoise) ->
VAEDecodeTiled (8) -> SaveImage (9). The tiled VAE keeps the encode/decode of a 2048x2048 result within a
20 GB GPU (a whole-image VAE pass at that size needs more memory than the sampler itself); the sampler's
low denoise adds detail without changing what the picture shows.
"""

from __future__ import annotations

from typing import Final

from pydantic import Field

from workflows.preset import Binding, NodeInput, Preset
from workflows.sdxl import STEPS_MAX, STEPS_MIN, ImageToImageParams, sampling_binding

SCALE: Final = 2
DENOISE_MIN: Final = 0.1
DENOISE_MAX: Final = 0.6  # above this the second pass redraws the picture instead of sharpening it
DENOISE_DEFAULT: Final = 0.3
STEPS_DEFAULT: Final = 20  # each step costs about four times a 1 MP step
# Every SDXL bucket (at most 1024x1024, 1.05 MP) fits; the result is then at most 2048x2048 (4.2 MP).
MAX_PIXELS: Final = 1024 * 1024
MAX_SIDE: Final = 1536
MIN_SIDE: Final = 64
TILE_SIZE: Final = 1024  # pixels; the sampler's latent is not tiled
TILE_OVERLAP: Final = 64

IMAGE_INPUT: Final[NodeInput] = ("10", "image")  # set by the worker to the staged, checked image


class UpscaleParams(ImageToImageParams):
    """Parameters of the ``sdxl_upscale`` preset."""

    steps: int = Field(default=STEPS_DEFAULT, ge=STEPS_MIN, le=STEPS_MAX)
    denoise: float = Field(default=DENOISE_DEFAULT, ge=DENOISE_MIN, le=DENOISE_MAX, description="how much changes")


def bind(params: UpscaleParams) -> Binding:
    """Which template input each parameter sets (node ids are those of templates/sdxl_upscale.json)."""
    return {
        **sampling_binding(params),
        ("3", "denoise"): params.denoise,
        ("11", "scale_by"): float(SCALE),
        ("12", "tile_size"): TILE_SIZE,
        ("12", "overlap"): TILE_OVERLAP,
        ("8", "tile_size"): TILE_SIZE,
        ("8", "overlap"): TILE_OVERLAP,
    }


PRESET: Final = Preset(
    name="sdxl_upscale",
    title="Upscale 2x",
    description="The image at twice its width and height, with fine detail redrawn by a light SDXL pass.",
    params_model=UpscaleParams,
    template="sdxl_upscale.json",
    bind=bind,
)
