"""Real photos for the bot's tests (shipped with scikit-image): one with a face, one without."""

from __future__ import annotations

import io
from functools import cache

import skimage.data
from PIL import Image


def _jpeg(name: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@cache
def face_jpeg() -> bytes:
    return _jpeg("astronaut")


@cache
def no_face_jpeg() -> bytes:
    return _jpeg("coffee")
