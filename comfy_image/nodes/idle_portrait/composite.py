"""Paste an animated face crop back into the full photo, one uint8 frame at a time."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

UInt8Array = NDArray[np.uint8]

_FEATHER = 0.07  # share of the crop side faded out at each border: hides the seam when the head sways


def feather_mask(size: int) -> NDArray[np.float32]:
    """A square crop-space mask: 1 inside, smoothly down to 0 at the borders."""
    ramp = max(2, round(size * _FEATHER))
    u = np.clip(np.minimum(np.arange(size), np.arange(size)[::-1]) / ramp, 0.0, 1.0)
    edge = (u * u * (3 - 2 * u)).astype(np.float32)
    return np.outer(edge, edge)


def crop_size(crop: dict[str, Any], fallback: int = 512) -> float:
    """The cropper's ``dsize``: M_c2o maps a dsize x dsize crop to the photo (pt_crop_256x256 = pt_crop * 256 / dsize)."""
    pts, pts_256 = crop.get("pt_crop"), crop.get("pt_crop_256x256")
    if pts is None or pts_256 is None:
        return float(fallback)
    pts, pts_256 = np.asarray(pts, dtype=np.float64), np.asarray(pts_256, dtype=np.float64)
    big = np.abs(pts_256) > 1e-6
    return float(np.median(pts[big] / pts_256[big]) * 256) if big.any() else float(fallback)


class Compositor:
    """Blends crops into the photo through the crop-to-original matrix; only the face's box is recomputed."""

    def __init__(self, photo: UInt8Array, m_c2o: NDArray[Any], dsize: float, out_size: int) -> None:
        self.photo = np.ascontiguousarray(photo[..., :3])
        height, width = self.photo.shape[:2]
        scale = np.diag([dsize / out_size, dsize / out_size, 1.0])
        self.matrix = (np.asarray(m_c2o, dtype=np.float64).reshape(3, 3) @ scale)[:2]
        self.out_size = out_size
        mask = cv2.warpAffine(feather_mask(out_size), self.matrix, (width, height), flags=cv2.INTER_LINEAR)
        rows, cols = np.nonzero(mask > 1e-3)
        if rows.size == 0:
            raise ValueError("The face crop does not overlap the photo.")
        self.box = (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1)
        top, bottom, left, right = self.box
        self.mask = mask[top:bottom, left:right, None]
        self.base = self.photo[top:bottom, left:right].astype(np.float32)

    def paste(self, crop: UInt8Array) -> UInt8Array:
        if crop.shape[:2] != (self.out_size, self.out_size):
            raise ValueError(f"crop is {crop.shape[:2]}, expected {self.out_size}x{self.out_size}")
        top, bottom, left, right = self.box
        # Translate the matrix so warpAffine renders only the face's box, not the whole photo.
        local = self.matrix.copy()
        local[:, 2] -= (left, top)
        warped = cv2.warpAffine(crop, local, (right - left, bottom - top), flags=cv2.INTER_LINEAR)
        frame = self.photo.copy()
        blended = self.base + self.mask * (warped.astype(np.float32) - self.base)
        frame[top:bottom, left:right] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        return frame
