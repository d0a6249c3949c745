"""The face pre-check, shared by the bot (before any credit is held) and the worker (before any GPU work).

MediaPipe's short-range BlazeFace runs on the CPU on the photo as the worker animates it: upright, RGB, about one
megapixel (``normalize_photo``), so both sides reach the same verdict on the same photo. mediapipe is imported on
first use only; nothing here imports the worker (``bot -> workflows <- handler``).
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, Field

from workflows.contract import USER_MESSAGES, ErrorCode
from workflows.liveportrait import PHOTO_MAX_PIXELS, PHOTO_MIN_SIDE

# Ships inside the mediapipe 0.10.21 wheel (Apache-2.0): nothing is downloaded at run time.
MODEL_RESOURCE: Final = ("mediapipe", "modules/face_detection/face_detection_short_range.tflite")
MIN_CONFIDENCE: Final = 0.5
# Windows see more clutter at a higher zoom: background blobs scored 0.5-0.66 there, real faces 0.79-0.95.
MIN_WINDOW_CONFIDENCE: Final = 0.75
MIN_FACE_SIDE: Final = 40  # pixels in the normalised photo; smaller faces animate as a blur

MAX_PIXELS: Final = 1_000_000  # LivePortrait works on a 512 crop; more pixels only cost RAM and encode time
MIN_SIDE: Final = PHOTO_MIN_SIDE  # below this no face is big enough to animate
MAX_ASPECT: Final = 3.0
MAX_DECODE_PIXELS: Final = PHOTO_MAX_PIXELS  # refuse bigger files before decoding them (decompression bombs)
TOO_SMALL_FACE: Final = (
    "The face in the photo is too small. Please send a closer photo where the face fills more of the frame."
)


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


class FaceCheck(BaseModel):
    """The verdict on one photo. ``code`` is NO_FACE or INVALID_INPUT when not ``ok``; ``message`` suits a user."""

    ok: bool
    code: ErrorCode | None = None
    message: str = ""
    faces: int = 0
    warnings: list[str] = Field(default_factory=list)
    boxes: list[FaceBox] = Field(default_factory=list)  # every face, largest first (the one animated)
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def face(self) -> FaceBox:
        return self.boxes[0]


class PhotoRejected(ValueError):
    """A photo that cannot be animated whatever face it shows (too small, strip-shaped, not an image)."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


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


def normalize_photo(image: Image.Image, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """An upright RGB copy of at most ``max_pixels`` with even width and height (H.264 yuv420p needs them).

    Raises PhotoRejected for images too small to hold a face or of a strip-like shape.
    """
    rgb = _to_rgb(ImageOps.exif_transpose(image))
    width, height = rgb.size
    if min(width, height) < min_side:
        raise PhotoRejected(
            f"The photo is too small ({width}x{height}); send one at least {min_side} pixels on each side.",
            width=width,
            height=height,
            reason="too_small",
        )
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise PhotoRejected(
            f"The photo's shape ({width}x{height}) is too elongated; crop it closer to the face.",
            width=width,
            height=height,
            reason="elongated",
        )
    scale = min(1.0, (max_pixels / (width * height)) ** 0.5)
    new_w, new_h = _even(width * scale), _even(height * scale)
    if (new_w, new_h) == rgb.size:
        return rgb
    if scale < 1.0:
        return rgb.resize((new_w, new_h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return rgb.crop((0, 0, new_w, new_h))  # only an odd last row/column to drop


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB; transparent areas become white rather than whatever colour hides under alpha 0."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode == "I;16" or image.mode == "I":
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image.convert("RGB")


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def check_image(photo: Image.Image) -> FaceCheck:
    """The verdict on a photo already normalised by ``normalize_photo`` (the worker's path)."""
    boxes = FaceDetector.detect(photo)
    if not boxes:
        return FaceCheck(ok=False, code=ErrorCode.NO_FACE, message=USER_MESSAGES[ErrorCode.NO_FACE])
    face = boxes[0]
    if min(face.width, face.height) < MIN_FACE_SIDE:
        return FaceCheck(
            ok=False,
            code=ErrorCode.NO_FACE,
            message=TOO_SMALL_FACE,
            faces=len(boxes),
            boxes=boxes,
            details={"face_px": min(face.width, face.height)},
        )
    notes = [f"{len(boxes)} faces found; the largest one was animated."] if len(boxes) > 1 else []
    return FaceCheck(ok=True, faces=len(boxes), warnings=notes, boxes=boxes)


def decode_photo(data: bytes, max_pixels: int = MAX_DECODE_PIXELS) -> Image.Image:
    """Open a photo's bytes, refusing non-images and oversized ones before decoding the pixels."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise PhotoRejected(
                    f"The photo is {width}x{height}; at most {max_pixels // 1_000_000} megapixels.",
                    width=width,
                    height=height,
                    reason="too_many_pixels",
                )
            image.load()
        except PhotoRejected:  # a ValueError too: it must not read as "corrupt" below
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoRejected("The file is not a photo in a supported format (JPEG, PNG, WebP).") from exc
        except (OSError, SyntaxError, ValueError) as exc:  # PIL's ways of saying "corrupt or truncated"
            raise PhotoRejected("The photo file is corrupt or truncated.") from exc
    return image


def check_face(photo: bytes) -> FaceCheck:
    """The verdict on a photo as sent (JPEG/PNG/WebP bytes): the bot calls this before holding any credit.

    CPU-bound (tens of milliseconds, more for a photo that needs the window search): call it in a thread.
    """
    try:
        normalised = normalize_photo(decode_photo(photo))
    except PhotoRejected as rejected:
        return FaceCheck(
            ok=False, code=ErrorCode.INVALID_INPUT, message=rejected.message, details=dict(rejected.details)
        )
    return check_image(normalised)


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
