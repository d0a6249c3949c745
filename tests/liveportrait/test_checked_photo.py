"""The worker's photo step for the liveportrait preset: decode, normalise, face check, reframe."""

from __future__ import annotations

import pytest
import skimage.data
from PIL import Image

from handler.errors import ErrorCode, JobError
from handler.face import FaceDetector
from handler.liveportrait import checked_photo
from handler.settings import WorkerSettings
from tests.handler.helpers import b64_image

SETTINGS = WorkerSettings(s3_bucket=None)


def test_portrait_passes_unchanged_in_framing() -> None:
    photo, warnings = checked_photo(b64_image(Image.fromarray(skimage.data.astronaut())), SETTINGS)
    assert photo.size == (512, 512) and photo.mode == "RGB"
    assert warnings == []


def test_two_faces_reframe_around_the_larger_and_warn() -> None:
    canvas = Image.new("RGB", (1100, 700), (230, 230, 230))
    canvas.paste(Image.fromarray(skimage.data.astronaut()), (0, 0))
    canvas.paste(Image.fromarray(skimage.data.camera()).convert("RGB").resize((400, 400)), (650, 200))
    photo, warnings = checked_photo(b64_image(canvas, "JPEG", quality=90), SETTINGS)
    assert len(warnings) == 2 and "2 faces found" in warnings[0] and "cropped around the face" in warnings[1]
    assert min(photo.size) >= 512 and photo.width % 2 == 0 and photo.height % 2 == 0
    faces = FaceDetector.detect(photo)
    assert len(faces) == 1  # only the astronaut is left for the KJ cropper to find


def test_small_face_in_a_large_photo_is_reframed() -> None:
    canvas = Image.new("RGB", (1600, 1200), (200, 200, 200))
    canvas.paste(Image.fromarray(skimage.data.astronaut()), (900, 500))
    photo, warnings = checked_photo(b64_image(canvas), SETTINGS)
    assert any("cropped around the face" in w for w in warnings)
    face = FaceDetector.detect(photo)[0]
    assert min(face.width, face.height) > min(photo.size) / 6


def test_undecodable_photo_names_the_param() -> None:
    with pytest.raises(JobError) as err:
        checked_photo("bm90IGFuIGltYWdl", SETTINGS)
    assert err.value.code is ErrorCode.INVALID_INPUT
    assert err.value.details["field"] == "params.photo"
