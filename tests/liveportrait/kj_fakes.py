"""Stand-ins for the three KJ LivePortrait nodes our template uses, registered into the test's ComfyUI.

The pack cannot be installed here (GitHub is unreachable and its weights live on Hugging Face), so these take
their input schema verbatim from comfy_image/kj_liveportrait_schema.json (recorded from the pinned commit) and
return what the real nodes return: a pipeline object exposing ``live_portrait_wrapper`` (random-weight, shrunken
networks), a cropper, and KJ's (cropped_image, CROPINFO) pair. Face boxes come from our MediaPipe detector and the
203 landmarks are synthetic, standing in for KJ's landmark.onnx.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from handler.face import FaceDetector
from tests.liveportrait.tiny_liveportrait import crop_face, tiny_pipeline

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "comfy_image" / "kj_liveportrait_schema.json"
SCHEMA: dict[str, Any] = {k: v for k, v in json.loads(SCHEMA_PATH.read_text()).items() if not k.startswith("_")}


def _tuples(value: Any) -> Any:
    """ComfyUI's INPUT_TYPES use tuples ``(type, options)``; JSON gives lists (a combo's option list stays a list)."""
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], list):
        return (value[0], *value[1:])
    if isinstance(value, list):
        return tuple(value)
    return value


class _FromSchema:
    CATEGORY = "LivePortrait"
    NAME = ""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return _tuples(SCHEMA[cls.NAME]["input"])


class DownloadAndLoadLivePortraitModels(_FromSchema):
    NAME = "DownloadAndLoadLivePortraitModels"
    RETURN_TYPES = tuple(SCHEMA[NAME]["output"])
    RETURN_NAMES = tuple(SCHEMA[NAME]["output_name"])
    FUNCTION = "loadmodel"

    def loadmodel(self, precision: str = "auto", mode: str = "human") -> tuple[Any]:
        return (tiny_pipeline(seed=0),)


class _Cropper:
    """KJ's CropperMediaPipe contract: crop_single_image -> (crop dict or {}, 256x256 crop or None)."""

    def crop_single_image(self, img_rgb: np.ndarray, *args: Any) -> tuple[dict[str, Any], Any]:
        faces = FaceDetector.detect(Image.fromarray(img_rgb))
        return (faces[0], None) if faces else ({}, None)


class LivePortraitLoadMediaPipeCropper(_FromSchema):
    NAME = "LivePortraitLoadMediaPipeCropper"
    RETURN_TYPES = tuple(SCHEMA[NAME]["output"])
    RETURN_NAMES = tuple(SCHEMA[NAME]["output_name"])
    FUNCTION = "crop"

    def crop(self, landmarkrunner_onnx_device: str, keep_model_loaded: bool) -> tuple[Any]:
        return (_Cropper(),)


class LivePortraitCropper(_FromSchema):
    NAME = "LivePortraitCropper"
    RETURN_TYPES = tuple(SCHEMA[NAME]["output"])
    RETURN_NAMES = tuple(SCHEMA[NAME]["output_name"])
    FUNCTION = "process"

    def process(
        self, pipeline: Any, cropper: _Cropper, source_image: torch.Tensor, dsize: int, scale: float, **_: Any
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        photo = (source_image[0].clamp(0, 1) * 255).byte().numpy()
        face, _ = cropper.crop_single_image(photo)
        if not face:  # KJ logs a warning and records None for the frame
            info = {
                "crop_info_list": [None],
                "source_info": [None],
                "source_rot_list": [None],
                "f_s_list": [None],
                "x_s_list": [None],
            }
            return torch.zeros(1, 256, 256, 3), info
        box = (face.x, face.y, face.x + face.width, face.y + face.height)
        crop_256, info = crop_face(pipeline, photo, box, dsize=dsize, scale=scale)
        return torch.from_numpy(crop_256)[None].float() / 255, info


FAKES = {
    cls.NAME: cls for cls in (DownloadAndLoadLivePortraitModels, LivePortraitLoadMediaPipeCropper, LivePortraitCropper)
}
