"""Photo normalisation and the CPU face pre-check, on real photos shipped with scikit-image."""

from __future__ import annotations

import io

import numpy as np
import pytest
import skimage.data
from PIL import Image

from handler.errors import ErrorCode, JobError
from handler.face import FaceDetector, focus_on, require_face
from handler.photo import normalize_photo


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage.data, name)())


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_faces_are_found(name: str) -> None:
    check = require_face(normalize_photo(photo(name)))
    assert check.ok and check.faces == 1 and check.warnings == []
    assert check.face.score > 0.6
    assert 60 < check.face.width < 200


@pytest.mark.parametrize("name", ["coffee", "rocket", "chelsea"])
def test_no_face_is_a_friendly_no_face_error(name: str) -> None:
    with pytest.raises(JobError) as err:
        require_face(normalize_photo(photo(name)))
    assert err.value.code is ErrorCode.NO_FACE
    assert "face" in err.value.message.lower() and "photo" in err.value.message.lower()


def test_exif_rotated_photo_is_uprighted_before_detection() -> None:
    # A camera stores the pixels sideways and says so in EXIF orientation 6 ("rotate 90 CW to view").
    sideways = photo("astronaut").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    sideways.save(buf, format="JPEG", exif=exif, quality=95)
    loaded = Image.open(io.BytesIO(buf.getvalue()))
    upright = normalize_photo(loaded)
    assert upright.size == (512, 512)
    difference = np.abs(np.asarray(upright, dtype=int) - skimage.data.astronaut()).mean()
    assert difference < 4  # the original orientation, up to JPEG loss
    assert require_face(upright).faces == 1


def test_several_faces_animate_the_largest_with_a_warning() -> None:
    canvas = Image.new("RGB", (1100, 700), (230, 230, 230))
    canvas.paste(photo("astronaut"), (0, 0))
    small = photo("camera").convert("RGB").resize((400, 400))
    canvas.paste(small, (650, 200))
    check = require_face(normalize_photo(canvas))
    assert check.faces == 2 and len(check.boxes) == 2
    assert check.face == max(check.boxes, key=lambda f: f.area)
    assert check.face.x < 300  # the astronaut, not the smaller cameraman
    assert check.warnings and "largest" in check.warnings[0]
    framed = focus_on(normalize_photo(canvas), check.face)
    assert framed.width % 2 == 0 and framed.height % 2 == 0
    assert len(FaceDetector.detect(framed)) == 1


def test_large_photo_is_downscaled_to_about_a_megapixel_with_even_sides() -> None:
    big = photo("astronaut").resize((2001, 1499))
    out = normalize_photo(big)
    assert out.width * out.height <= 1_000_000
    assert out.width % 2 == 0 and out.height % 2 == 0
    assert abs(out.width / out.height - 2001 / 1499) < 0.01
    assert require_face(out).faces == 1


def test_small_odd_photo_keeps_its_pixels_but_gets_even_sides() -> None:
    out = normalize_photo(photo("astronaut").crop((0, 0, 301, 257)))
    assert out.size == (300, 256)


def test_modes_become_rgb_and_transparency_becomes_white() -> None:
    rgba = np.zeros((200, 200, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[:100, :, 3] = 255  # top half opaque red, bottom half fully transparent
    out = normalize_photo(Image.fromarray(rgba))
    assert out.mode == "RGB"
    assert out.getpixel((10, 10)) == (255, 0, 0)
    assert out.getpixel((10, 150)) == (255, 255, 255)
    assert normalize_photo(photo("camera")).mode == "RGB"  # grayscale


@pytest.mark.parametrize("size", [(100, 100), (640, 90)])
def test_too_small_photos_are_invalid_input(size: tuple[int, int]) -> None:
    with pytest.raises(JobError) as err:
        normalize_photo(Image.new("RGB", size))
    assert err.value.code is ErrorCode.INVALID_INPUT
    assert "too small" in err.value.message


def test_strip_shaped_photo_is_invalid_input() -> None:
    with pytest.raises(JobError) as err:
        normalize_photo(Image.new("RGB", (2000, 400)))
    assert err.value.code is ErrorCode.INVALID_INPUT


def test_tiny_face_is_no_face() -> None:
    canvas = Image.new("RGB", (2400, 2400), (200, 200, 200))
    canvas.paste(photo("astronaut").resize((300, 300)), (1000, 1000))
    with pytest.raises(JobError) as err:
        require_face(normalize_photo(canvas))
    assert err.value.code is ErrorCode.NO_FACE
