"""Paste-back of a crop into the photo through the cropper's crop-to-original matrix."""

from __future__ import annotations

import numpy as np
import pytest

from comfy_image.nodes.idle_portrait.composite import Compositor, crop_size, feather_mask


def test_feather_mask_is_one_inside_and_fades_to_zero() -> None:
    mask = feather_mask(128)
    assert mask[64, 64] == 1.0 and mask[0, 64] == 0.0 and mask[64, 127] == 0.0
    assert np.all(np.diff(mask[64, :64]) >= 0)


def test_crop_size_is_recovered_from_the_cropper_points() -> None:
    pts = np.array([[100.0, 50.0], [300.0, 400.0]])
    assert crop_size({"pt_crop": pts, "pt_crop_256x256": pts * 256 / 384}) == pytest.approx(384)
    assert crop_size({}) == 512


@pytest.mark.parametrize("dsize", [512, 256])
def test_crop_lands_where_the_matrix_says(dsize: int) -> None:
    photo = np.zeros((300, 400, 3), dtype=np.uint8)
    # The crop covers the photo square x 100..220, y 60..180 (scale 120 / dsize).
    k = 120 / dsize
    m_c2o = np.array([[k, 0, 100], [0, k, 60], [0, 0, 1]], dtype=np.float32)
    compositor = Compositor(photo, m_c2o, dsize, out_size=128)
    frame = compositor.paste(np.full((128, 128, 3), 255, dtype=np.uint8))
    assert frame.shape == photo.shape and frame.dtype == np.uint8
    assert frame[120, 160].tolist() == [255, 255, 255]  # centre of the square
    assert frame[61, 160, 0] < 64  # the feathered border fades into the photo
    assert frame[:, :95].max() == 0 and frame[:, 226:].max() == 0 and frame[:55].max() == 0 and frame[186:].max() == 0
    with pytest.raises(ValueError, match="expected 128x128"):
        compositor.paste(np.zeros((64, 64, 3), dtype=np.uint8))
