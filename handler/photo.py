"""Photo normalisation before animation (workflows/face_check.py): a refusal becomes the job's INVALID_INPUT."""

from __future__ import annotations

from PIL import Image

from handler.errors import ErrorCode, JobError
from workflows import face_check

MAX_PIXELS = face_check.MAX_PIXELS
MIN_SIDE = face_check.MIN_SIDE
MAX_ASPECT = face_check.MAX_ASPECT


def normalize_photo(image: Image.Image, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """Upright RGB, at most ``max_pixels``, even sides; JobError(INVALID_INPUT) for a photo that cannot be used."""
    try:
        return face_check.normalize_photo(image, max_pixels, min_side)
    except face_check.PhotoRejected as rejected:
        raise JobError(ErrorCode.INVALID_INPUT, rejected.message, field="params.photo", **rejected.details) from None
