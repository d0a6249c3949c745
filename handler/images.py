"""Input images: decoded and checked before ComfyUI ever sees them."""

from __future__ import annotations

import base64
import binascii
import io
import re
import time
import warnings
from contextvars import ContextVar
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from handler.errors import ErrorCode, JobError
from handler.settings import WorkerSettings
from handler.url_fetch import fetch

ALLOWED_FORMATS = {"PNG", "JPEG", "MPO", "WEBP", "BMP", "GIF", "TIFF"}
_DATA_URL = re.compile(r"^data:[\w/+.-]*(;[\w=-]+)*;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class DownloadBudget:
    """When all of a job's image downloads must be done (time.monotonic()), the setting that says so, the code."""

    deadline: float
    setting: str
    code: ErrorCode = ErrorCode.INVALID_INPUT


download_budget: ContextVar[DownloadBudget | None] = ContextVar("download_budget", default=None)


def _invalid(message: str) -> JobError:
    return JobError(ErrorCode.INVALID_INPUT, message, field="images")


def _decode_base64(text: str, max_bytes: int) -> bytes:
    payload = _DATA_URL.sub("", text.strip(), count=1)
    payload = "".join(payload.split())
    if len(payload) * 3 // 4 > max_bytes:
        raise _invalid(f"Image is larger than {max_bytes // (1024 * 1024)} MB.")
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("Image is not valid base64.") from exc


def image_bytes(spec: str, settings: WorkerSettings) -> bytes:
    """The raw bytes of an image given as base64 / data: URL / https URL."""
    if spec.lstrip().lower().startswith(("https://", "http://")):
        return _download(spec.strip(), settings)
    return _decode_base64(spec, settings.image_max_bytes)


def _download(url: str, settings: WorkerSettings) -> bytes:
    """Fetch within the tightest deadline: this URL's, all the job's downloads', the job's own."""
    budget = DownloadBudget(time.monotonic() + settings.image_url_deadline_s, "IMAGE_URL_DEADLINE_S")
    shared = download_budget.get()
    if shared is not None and shared.deadline < budget.deadline:
        budget = shared
    try:
        return fetch(
            url,
            max_bytes=settings.image_max_bytes,
            timeout_s=settings.image_url_timeout_s,
            allow_private=settings.allow_loopback_urls,
            deadline=budget.deadline,
        )
    except JobError as err:
        if time.monotonic() < budget.deadline:
            raise
        raise JobError(
            budget.code,
            f"Image URL download did not finish in time ({budget.setting}).",
            field="images",
            budget=budget.setting,
        ) from err


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """Open, bound the pixel count before decoding (decompression bombs), load fully, apply EXIF orientation."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _invalid("The data is not an image in a supported format (PNG, JPEG, WebP).") from exc
        if image.format not in ALLOWED_FORMATS:
            raise _invalid(f"Image format {image.format} is not supported.")
        width, height = image.size
        if width * height > max_pixels:
            raise _invalid(f"Image is {width}x{height}; at most {max_pixels // 1_000_000} megapixels are accepted.")
        try:
            image.load()
            oriented = ImageOps.exif_transpose(image)
        except Exception as exc:  # PIL raises many types (OSError, SyntaxError, ValueError) for corrupt files
            raise _invalid("The image file is corrupt or truncated.") from exc
    return oriented.convert("RGBA") if oriented.mode in ("RGBA", "LA", "PA") else oriented.convert("RGB")


def load_image(spec: str, settings: WorkerSettings) -> Image.Image:
    """Decode and check one input image (base64, data: URL or https URL)."""
    return decode_image(image_bytes(spec, settings), settings.image_max_pixels)
