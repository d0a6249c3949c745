"""The ``sdxl_variation`` preset: image-to-image on a given image at a low denoise (templates/sdxl_variation.json).

LoadImage (10) -> VAEEncode (11) -> RepeatLatentBatch (13) -> KSampler (3, denoise < 1) -> VAEDecode (8) ->
SaveImage (9). A low denoise keeps the composition and colours and changes the details; each batch image gets
its own noise. The worker scales images above ``MAX_PIXELS`` down to about SDXL's native megapixel.
"""

from __future__ import annotations

from typing import Final

from pydantic import Field

from workflows.preset import Binding, NodeInput, Preset
from workflows.sdxl import ImageToImageParams, sampling_binding

DENOISE_MIN: Final = 0.1
DENOISE_MAX: Final = 0.8  # above this the source image barely shows: that is text-to-image, not a variation
DENOISE_DEFAULT: Final = 0.45
BATCH_MAX: Final = 4
MAX_PIXELS: Final = 1024 * 1024  # SDXL's native size; larger images are scaled down to it
MIN_SIDE: Final = 64

IMAGE_INPUT: Final[NodeInput] = ("10", "image")  # set by the worker to the staged, checked image


class VariationParams(ImageToImageParams):
    """Parameters of the ``sdxl_variation`` preset."""

    denoise: float = Field(default=DENOISE_DEFAULT, ge=DENOISE_MIN, le=DENOISE_MAX, description="how much changes")
    batch_size: int = Field(default=1, ge=1, le=BATCH_MAX)


def bind(params: VariationParams) -> Binding:
    """Which template input each parameter sets (node ids are those of templates/sdxl_variation.json)."""
    return {**sampling_binding(params), ("3", "denoise"): params.denoise, ("13", "amount"): params.batch_size}


PRESET: Final = Preset(
    name="sdxl_variation",
    title="Variation",
    description="A variation of an image: same composition and colours, new details (SDXL image-to-image).",
    params_model=VariationParams,
    template="sdxl_variation.json",
    bind=bind,
)
