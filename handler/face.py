"""Face pre-check on the CPU with MediaPipe's short-range BlazeFace, before any GPU work is spent."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image

from handler.errors import ErrorCode, JobError

# Ships inside the mediapipe 0.10.21 wheel (Apache-2.0): nothing is downloaded at run time.
MODEL_RESOURCE = ("mediapipe", "modules/face_detection/face_detection_short_range.tflite")
MIN_CONFIDENCE = 0.5
# Windows see more clutter at a higher zoom: background blobs scored 0.5-0.66 there, real faces 0.79-0.95.
MIN_WINDOW_CONFIDENCE = 0.75
MIN_FACE_SIDE = 40  # pixels in the normalised photo; smaller faces animate as a blur


@dataclass(frozen=True)
class FaceBox:
    x: int
    y: int
    width: int
    height: int
    score: float

    @property
    def area(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class FaceCheck:
    """The face to animate (the largest), every face found, and what the user should be told."""

    face: FaceBox
    faces: tuple[FaceBox, ...]
    warnings: tuple[str, ...]


class FaceDetector:
    """One MediaPipe detector per process; MediaPipe task objects are not safe to share between threads."""

    _lock = threading.Lock()
    _detector: Any = None

    @classmethod
    def _get(cls) -> Any:
        if cls._detector is None:
            from mediapipe.tasks.python import BaseOptions, vision

            package, name = MODEL_RESOURCE
            model = resources.files(package).joinpath(name).read_bytes()
            options = vision.FaceDetectorOptions(
                base_options=BaseOptions(model_asset_buffer=model), min_detection_confidence=MIN_CONFIDENCE
            )
            cls._detector = vision.FaceDetector.create_from_options(options)
        return cls._detector

    @classmethod
    def detect(cls, image: Image.Image) -> list[FaceBox]:
        """Faces in an RGB image, largest first.

        The short-range model sees the image at 128 px, so faces under ~1/8 of the frame are missed; when the
        whole image shows none, overlapping windows are searched too (a person photographed full-length).
        """
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
        faces = cls._detect_pixels(pixels, 0, 0)
        if not faces:
            for x, y, side in _windows(pixels.shape[1], pixels.shape[0]):
                window = cls._detect_pixels(pixels[y : y + side, x : x + side], x, y)
                faces += [f for f in window if f.score >= MIN_WINDOW_CONFIDENCE]
        return _merge(faces)

    @classmethod
    def _detect_pixels(cls, pixels: np.ndarray[Any, Any], dx: int, dy: int) -> list[FaceBox]:
        import mediapipe as mp

        frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(pixels))
        with cls._lock:
            result = cls._get().detect(frame)
        size = (pixels.shape[1], pixels.shape[0])
        return [b for b in (_box(d, size, dx, dy) for d in result.detections) if b.area > 0]


def _windows(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square windows of half the short side, overlapping by half: (x, y, side)."""
    side = min(width, height) // 2
    step = max(1, side // 2)
    xs = sorted({*range(0, width - side + 1, step), width - side})
    ys = sorted({*range(0, height - side + 1, step), height - side})
    return [(x, y, side) for y in ys for x in xs]


def _merge(faces: list[FaceBox]) -> list[FaceBox]:
    """Largest first, dropping boxes that mostly overlap a kept one (the same face seen in two windows)."""
    kept: list[FaceBox] = []
    for face in sorted(faces, key=lambda f: f.area, reverse=True):
        if all(_overlap(face, k) < 0.4 for k in kept):
            kept.append(face)
    return kept


def _overlap(a: FaceBox, b: FaceBox) -> float:
    w = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    h = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    return max(0, w) * max(0, h) / min(a.area, b.area)


def _box(detection: Any, size: tuple[int, int], dx: int, dy: int) -> FaceBox:
    bb = detection.bounding_box
    x0, y0 = max(0, bb.origin_x), max(0, bb.origin_y)
    x1, y1 = min(size[0], bb.origin_x + bb.width), min(size[1], bb.origin_y + bb.height)
    score = float(detection.categories[0].score) if detection.categories else 0.0
    return FaceBox(x0 + dx, y0 + dy, max(0, x1 - x0), max(0, y1 - y0), score)


def check_face(image: Image.Image) -> FaceCheck:
    """The face to animate; JobError(NO_FACE) when there is none big enough."""
    faces = FaceDetector.detect(image)
    if not faces:
        raise JobError(ErrorCode.NO_FACE)
    face = faces[0]
    if min(face.width, face.height) < MIN_FACE_SIDE:
        raise JobError(
            ErrorCode.NO_FACE,
            "The face in the photo is too small. Please send a closer photo where the face fills more of the frame.",
            face_px=min(face.width, face.height),
        )
    warnings: tuple[str, ...] = ()
    if len(faces) > 1:
        warnings = (f"{len(faces)} faces found; the largest one was animated.",)
    return FaceCheck(face=face, faces=tuple(faces), warnings=warnings)


def focus_on(image: Image.Image, face: FaceBox, context: float = 2.2) -> Image.Image:
    """The photo cropped around one face (``context`` face sizes each way), even sides.

    Used when a photo holds several faces: the LivePortrait cropper animates whichever face its own
    landmarker reports first, so the others are framed out.
    """
    cx, cy = face.x + face.width / 2, face.y + face.height / 2
    half = max(face.width, face.height) * context
    x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
    x1, y1 = min(image.width, int(cx + half)), min(image.height, int(cy + half))
    x1 -= (x1 - x0) % 2
    y1 -= (y1 - y0) % 2
    return image.crop((x0, y0, x1, y1))
