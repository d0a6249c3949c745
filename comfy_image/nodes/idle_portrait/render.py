"""Drive a LivePortrait pipeline (the KJ pack's LIVEPORTRAITPIPE + CROPINFO) with idle motion, a chunk at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from .keypoints import NUM_KP, blink_delta, drive_keypoints, eye_open_ratios, smile_delta
from .motion import IdleMotion

UInt8Array = NDArray[np.uint8]


class NoFaceInCropError(ValueError):
    """The cropper found no face in the source image, so there is nothing to animate."""


class BlinkMethod(StrEnum):
    RETARGET = "retarget"  # LivePortrait's eye-retargeting network, conditioned on the eye-opening ratio
    EXPRESSION = "expression"  # fixed expression offsets (needs no landmarks)


@dataclass(frozen=True)
class SourceFace:
    """What LivePortraitCropper computed for the face being animated."""

    info: dict[str, Any]  # get_kp_info output: kp, exp, scale, t, pitch, yaw, roll
    x_s: torch.Tensor  # (1, 21, 3) source keypoints
    f_s: torch.Tensor  # (1, 32, 16, 64, 64) appearance feature volume
    crop: dict[str, Any]  # M_c2o, lmk_crop, input_image_size, pt_crop, ...

    @classmethod
    def from_crop_info(cls, crop_info: dict[str, Any], index: int = 0) -> SourceFace:
        crops = crop_info.get("crop_info_list") or []
        if index >= len(crops) or not crops[index]:
            raise NoFaceInCropError("No face detected in the source image; nothing to animate.")
        return cls(
            info=crop_info["source_info"][index],
            x_s=crop_info["x_s_list"][index],
            f_s=crop_info["f_s_list"][index],
            crop=crops[index],
        )


class IdleAnimator:
    """Turns motion curves into animated face crops with the pipeline's own networks (warp + decode)."""

    def __init__(
        self,
        pipeline: Any,
        face: SourceFace,
        stitching: bool = True,
        blink_method: BlinkMethod = BlinkMethod.RETARGET,
    ) -> None:
        self.wrapper = pipeline.live_portrait_wrapper
        self.face = face
        self.stitching = stitching
        self.device = face.x_s.device
        retargeting = getattr(self.wrapper, "stitching_retargeting_module", None) or {}
        lmk = face.crop.get("lmk_crop")
        self.blink_method = blink_method
        if blink_method is BlinkMethod.RETARGET and (lmk is None or "eye" not in retargeting):
            self.blink_method = BlinkMethod.EXPRESSION
        self._eye_ratios = eye_open_ratios(lmk) if lmk is not None else (0.0, 0.0)
        self._eye_rest: torch.Tensor | None = None

    def keypoints(self, motion: IdleMotion, start: int, stop: int) -> torch.Tensor:
        """Driving keypoints (B, 21, 3) for frames ``start:stop``, before stitching."""
        with torch.inference_mode():
            return self._keypoints(motion, start, stop)

    def _keypoints(self, motion: IdleMotion, start: int, stop: int) -> torch.Tensor:
        curve = {k: self._tensor(getattr(motion, k)[start:stop]) for k in ("pitch", "yaw", "roll", "smile", "blink")}
        d_exp = smile_delta(curve["smile"])
        if self.blink_method is BlinkMethod.EXPRESSION:
            d_exp = d_exp + blink_delta(curve["blink"])
        x_d = drive_keypoints(self.face.info, curve["pitch"], curve["yaw"], curve["roll"], d_exp)
        if self.blink_method is BlinkMethod.RETARGET:
            x_d = x_d + self._eye_delta(curve["blink"])
        return x_d

    def _eye_delta(self, closure: torch.Tensor) -> torch.Tensor:
        """Eye-retargeting offsets for a target opening of c_open * (1 - closure), zero when the eyes are open.

        The network's output is not zero at the source's own ratio, so its resting output is subtracted.
        """
        left, right = self._eye_ratios
        c_open = (left + right) / 2
        if self._eye_rest is None:
            self._eye_rest = self._retarget_eye(torch.tensor([c_open], device=self.device))
        target = c_open * (1.0 - closure)
        return self._retarget_eye(target) - self._eye_rest

    def _retarget_eye(self, target: torch.Tensor) -> torch.Tensor:
        batch = target.shape[0]
        left, right = self._eye_ratios
        source = torch.tensor([left, right], dtype=torch.float32, device=self.device).expand(batch, 2)
        ratio = torch.cat([source, target.reshape(batch, 1).float()], dim=1)
        x_s = self.face.x_s.float().expand(batch, NUM_KP, 3)
        delta: torch.Tensor = self.wrapper.retarget_eye(x_s, ratio)
        return delta.reshape(batch, NUM_KP, 3)

    def frames(self, motion: IdleMotion, batch_size: int = 8) -> Iterator[UInt8Array]:
        """Animated crops (B, h, w, 3) uint8, ``batch_size`` frames per network call, in order."""
        for start in range(0, motion.frames, batch_size):
            stop = min(start + batch_size, motion.frames)
            yield self.render(motion, start, stop)

    def render(self, motion: IdleMotion, start: int, stop: int) -> UInt8Array:
        with torch.inference_mode():
            x_d = self._keypoints(motion, start, stop)
            batch = x_d.shape[0]
            x_s = self.face.x_s.float().expand(batch, NUM_KP, 3).contiguous()
            if self.stitching:
                x_d = self.wrapper.stitching(x_s, x_d)
            f_s = self.face.f_s.expand(batch, *self.face.f_s.shape[1:]).contiguous()
            out = self.wrapper.warp_decode(f_s, x_s, x_d)["out"]
            pixels = (out.float().clamp(0, 1) * 255).round().to(torch.uint8)
            return np.ascontiguousarray(pixels.permute(0, 2, 3, 1).cpu().numpy())

    def _tensor(self, values: NDArray[np.float64]) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float32, device=self.device)
