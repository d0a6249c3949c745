"""The shared face check as the bot calls it: photo bytes in, a verdict out (workflows/face_check.py)."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import skimage.data
from PIL import Image

from handler.errors import ErrorCode, JobError
from handler.face import require_face
from handler.photo import normalize_photo
from handler.settings import REPO_ROOT
from workflows.face_check import FaceCheck, check_face


def jpeg(image: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90, **save)  # type: ignore[arg-type]
    return buffer.getvalue()


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage.data, name)())


def test_a_face_photo_passes() -> None:
    check = check_face(jpeg(photo("astronaut")))
    assert check.ok and check.code is None
    assert check.faces == 1 and check.warnings == []


@pytest.mark.parametrize("name", ["coffee", "rocket"])
def test_a_photo_without_a_face_is_no_face_with_a_message_for_the_user(name: str) -> None:
    check = check_face(jpeg(photo(name)))
    assert not check.ok and check.code is ErrorCode.NO_FACE
    assert "face" in check.message.lower() and check.faces == 0


def test_several_faces_pass_with_the_same_warning_the_worker_gives() -> None:
    canvas = Image.new("RGB", (1100, 700), (230, 230, 230))
    canvas.paste(photo("astronaut"), (0, 0))
    canvas.paste(photo("camera").convert("RGB").resize((400, 400)), (650, 200))
    check = check_face(jpeg(canvas))
    assert check.ok and check.faces == 2
    assert check.warnings == ["2 faces found; the largest one was animated."]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"not an image at all", "not a photo"),
        (jpeg(Image.new("RGB", (100, 80))), "too small"),
        (jpeg(Image.new("RGB", (2000, 400))), "elongated"),
        (jpeg(photo("astronaut"))[:2000], "corrupt"),
    ],
)
def test_unusable_files_are_invalid_input_not_a_crash(data: bytes, words: str) -> None:
    check = check_face(data)
    assert not check.ok and check.code is ErrorCode.INVALID_INPUT
    assert words in check.message


def test_bot_and_worker_reach_the_same_verdict_on_the_same_photo() -> None:
    for name in ("astronaut", "coffee"):
        data = jpeg(photo(name))
        bot = check_face(data)
        worker: FaceCheck | JobError
        try:
            worker = require_face(normalize_photo(Image.open(io.BytesIO(data))))
        except JobError as err:
            worker = err
        if bot.ok:
            assert isinstance(worker, FaceCheck) and worker.boxes == bot.boxes
        else:
            assert isinstance(worker, JobError) and (worker.code, worker.message) == (bot.code, bot.message)


def test_importing_it_loads_neither_the_worker_nor_mediapipe() -> None:
    code = (
        "import sys, workflows.face_check; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('handler', 'mediapipe', 'torch', 'comfy')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
