"""Render a whole idle clip: motion -> keypoints -> warp/decode -> paste into the photo -> H.264, streamed.

Peak memory is one batch of crops plus one full frame, never the whole clip: every frame is encoded as soon
as it is composited.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .composite import Compositor, crop_size
from .encode import Mp4Encoder
from .motion import IdleMotion
from .render import BlinkMethod, IdleAnimator, SourceFace


@dataclass(frozen=True)
class RenderOptions:
    stitching: bool = True
    blink_method: BlinkMethod = BlinkMethod.RETARGET
    crf: int = 20
    batch_size: int = 8


def even_photo(photo: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Drop a last odd row/column: H.264 in yuv420p needs even sides."""
    height, width = photo.shape[:2]
    return photo[: height - height % 2, : width - width % 2, :3]


def render_clip(
    pipeline: Any,
    crop_info: dict[str, Any],
    photo: NDArray[np.uint8],
    motion: IdleMotion,
    options: RenderOptions = RenderOptions(),
    on_chunk: Callable[[int], None] | None = None,
) -> io.BytesIO:
    """Animate the cropped face of ``photo`` (H, W, 3 uint8) with ``motion``; returns the MP4 bytes.

    ``on_chunk(frames_done_in_chunk)`` runs before and after each batch (progress, cancellation).
    """
    face = SourceFace.from_crop_info(crop_info)
    expected = face.crop.get("input_image_size")
    if expected is not None and tuple(expected)[:2] != photo.shape[:2]:
        raise ValueError(f"crop_info is for a {tuple(expected)[:2]} image but source_image is {photo.shape[:2]}")
    frame = even_photo(photo)
    animator = IdleAnimator(pipeline, face, stitching=options.stitching, blink_method=options.blink_method)
    compositor: Compositor | None = None
    encoder = Mp4Encoder(frame.shape[1], frame.shape[0], motion.fps, crf=options.crf)
    with encoder:
        for crops in animator.frames(motion, options.batch_size):
            if on_chunk is not None:
                on_chunk(0)
            if compositor is None:
                compositor = Compositor(frame, face.crop["M_c2o"], crop_size(face.crop), crops.shape[1])
            for crop in crops:
                encoder.write(compositor.paste(crop))
            if on_chunk is not None:
                on_chunk(len(crops))
        return encoder.close()
