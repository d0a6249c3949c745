"""Photo normalisation before animation: upright, RGB, about 1 MP with even sides, big enough for a face."""

from __future__ import annotations

from PIL import Image, ImageOps

from handler.errors import ErrorCode, JobError

MAX_PIXELS = 1_000_000  # LivePortrait works on a 512 crop; more pixels only cost RAM and encode time
MIN_SIDE = 128  # below this no face is big enough to animate
MAX_ASPECT = 3.0


def normalize_photo(image: Image.Image, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """An upright RGB copy of at most ``max_pixels`` with even width and height (H.264 yuv420p needs them).

    Raises JobError(INVALID_INPUT) for images too small to hold a face or of a strip-like shape.
    """
    upright = ImageOps.exif_transpose(image)
    rgb = _to_rgb(upright)
    width, height = rgb.size
    if min(width, height) < min_side:
        raise JobError(
            ErrorCode.INVALID_INPUT,
            f"The photo is too small ({width}x{height}); send one at least {min_side} pixels on each side.",
            field="params.photo",
            width=width,
            height=height,
        )
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise JobError(
            ErrorCode.INVALID_INPUT,
            f"The photo's shape ({width}x{height}) is too elongated; crop it closer to the face.",
            field="params.photo",
        )
    scale = min(1.0, (max_pixels / (width * height)) ** 0.5)
    new_w, new_h = _even(width * scale), _even(height * scale)
    if (new_w, new_h) == rgb.size:
        return rgb
    if scale < 1.0:
        return rgb.resize((new_w, new_h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return rgb.crop((0, 0, new_w, new_h))  # only an odd last row/column to drop


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB; transparent areas become white rather than whatever colour hides under alpha 0."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode == "I;16" or image.mode == "I":
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image.convert("RGB")


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)
