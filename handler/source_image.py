"""Worker side of the image-to-image SDXL presets: the source image decoded, checked, sized, then staged.

Everything that can reject the image runs here, on the CPU, before the GPU is touched. Sides are cut down to
multiples of 8 (at most 7 px) so the VAE, which works in 8 px cells, returns exactly the size the user expects.
"""

from __future__ import annotations

from PIL import Image

from handler.errors import ErrorCode, JobError
from handler.images import load_image
from handler.settings import WorkerSettings
from workflows import sdxl_upscale, sdxl_variation

FIELD = "params.image"
CELL = 8  # pixels per latent cell of the SDXL VAE


def _source(spec: str, settings: WorkerSettings, min_side: int) -> Image.Image:
    try:
        image = load_image(spec, settings)
    except JobError as err:
        err.details["field"] = FIELD
        raise
    if image.mode != "RGB":  # transparent areas become white rather than whatever colour hides under alpha 0
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
    if min(image.size) < min_side:
        raise JobError(
            ErrorCode.INVALID_INPUT,
            f"The image is too small ({image.width}x{image.height}); send one at least {min_side} pixels on each side.",
            field=FIELD,
        )
    return image


def _whole_cells(image: Image.Image) -> Image.Image:
    width, height = image.width // CELL * CELL, image.height // CELL * CELL
    return image if (width, height) == image.size else image.crop((0, 0, width, height))


def variation_source(spec: str, settings: WorkerSettings) -> tuple[Image.Image, list[str]]:
    """The image to vary, at most SDXL's native megapixel, and what the user should be told."""
    image = _source(spec, settings, sdxl_variation.MIN_SIDE)
    warnings: list[str] = []
    scale = (sdxl_variation.MAX_PIXELS / (image.width * image.height)) ** 0.5
    if scale < 1.0:
        size = (max(CELL, round(image.width * scale)), max(CELL, round(image.height * scale)))
        warnings.append(f"The image was scaled down from {image.width}x{image.height} to about {size[0]}x{size[1]}.")
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return _whole_cells(image), warnings


def upscale_source(spec: str, settings: WorkerSettings) -> Image.Image:
    """The image to upscale; INVALID_INPUT when the result would not fit the preset's memory budget."""
    image = _source(spec, settings, sdxl_upscale.MIN_SIDE)
    if image.width * image.height > sdxl_upscale.MAX_PIXELS or max(image.size) > sdxl_upscale.MAX_SIDE:
        raise JobError(
            ErrorCode.INVALID_INPUT,
            f"The image is {image.width}x{image.height}; upscaling accepts at most 1024x1024 pixels "
            f"(1 megapixel, longest side {sdxl_upscale.MAX_SIDE}), so the 2x result fits the GPU.",
            field=FIELD,
            width=image.width,
            height=image.height,
            max_pixels=sdxl_upscale.MAX_PIXELS,
        )
    return _whole_cells(image)
