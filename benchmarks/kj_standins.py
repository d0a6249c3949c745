"""Stand-ins for the KJ LivePortrait nodes that cannot run in a --random-weights smoke run.

* ``Loader``: replaces DownloadAndLoadLivePortraitModels only where the KJ pack is not installed. It reads the
  random-weight files benchmarks/random_weights.py wrote (the KJ file names and key layout, strict loading) into
  mimic-head's modules on ComfyUI's device, behind the KJ LivePortraitWrapper's method names.
* The cropper nodes of tests/liveportrait/kj_fakes.py (MediaPipe face box, synthetic landmarks): the KJ
  MediaPipe cropper needs the real ``landmark.onnx``, which random weights cannot replace.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import torch

from benchmarks.random_weights import LP_INPUT, Scale, load_liveportrait
from tests.liveportrait import kj_fakes
from tests.liveportrait.tiny_liveportrait import TinyWrapper, _degrees, _rotation


class RandomWrapper(TinyWrapper):
    """KJ LivePortraitWrapper's methods over loaded random-weight networks, on any device (fp32)."""

    def __init__(self, modules: dict[str, torch.nn.Module], scale: Scale, device: torch.device) -> None:
        self.appearance_feature_extractor = modules["appearance_feature_extractor"]
        self.motion_extractor = modules["motion_extractor"]
        self.warping_module = modules["warping_module"]
        self.spade_generator = modules["spade_generator"]
        self.stitching_retargeting_module = {k: modules[k] for k in ("stitching", "lip", "eye")}
        self.device_id = device
        side = LP_INPUT[scale]
        self.cfg = SimpleNamespace(
            flag_use_half_precision=False,
            input_shape=(side, side),
            device_id=device,
            flag_stitching=True,
            flag_eye_retargeting=False,
            flag_lip_retargeting=False,
        )

    def prepare_source(self, img: np.ndarray) -> torch.Tensor:
        return super().prepare_source(img).to(self.device_id)

    def get_kp_info(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        info = dict(self.motion_extractor(x))
        for name in ("pitch", "yaw", "roll"):
            info[name] = _degrees(info[name].float().cpu()).to(x.device)
        info["kp"] = info["kp"].reshape(x.shape[0], 21, 3)
        info["exp"] = info["exp"].reshape(x.shape[0], 21, 3)
        return info

    def transform_keypoint(self, info: dict[str, torch.Tensor]) -> torch.Tensor:
        angles = [info[name].cpu() for name in ("pitch", "yaw", "roll")]
        rot = _rotation(*angles).to(info["kp"].device)
        x = (info["kp"] @ rot + info["exp"]) * info["scale"][..., None]
        x[..., :2] += info["t"][:, None, :2]
        return x


class Loader(kj_fakes.DownloadAndLoadLivePortraitModels):
    folder: ClassVar[Path]
    scale: ClassVar[Scale]

    def loadmodel(self, precision: str = "auto", mode: str = "human") -> tuple[Any]:
        import comfy.model_management

        device = comfy.model_management.get_torch_device()
        modules = load_liveportrait(self.folder, self.scale, device)
        return (SimpleNamespace(live_portrait_wrapper=RandomWrapper(modules, self.scale, device)),)


CROPPERS = {
    "LivePortraitLoadMediaPipeCropper": kj_fakes.LivePortraitLoadMediaPipeCropper,
    "LivePortraitCropper": kj_fakes.LivePortraitCropper,
}


def register(mappings: dict[str, Any], folder: Path, scale: Scale, real_cropper: bool) -> dict[str, str]:
    """Put the stand-ins where the real nodes are missing or cannot run; returns which node ran as what."""
    Loader.folder, Loader.scale = folder, scale
    ran: dict[str, str] = {}
    if "DownloadAndLoadLivePortraitModels" in mappings:
        ran["DownloadAndLoadLivePortraitModels"] = "KJ pack (real node, random-weight files)"
    else:
        mappings["DownloadAndLoadLivePortraitModels"] = Loader
        ran["DownloadAndLoadLivePortraitModels"] = "stand-in: KJ pack not installed (same files, mimic-head modules)"
    for name, cls in CROPPERS.items():
        if real_cropper and name in mappings:
            ran[name] = "KJ pack (real node)"
            continue
        why = "KJ pack not installed" if name not in mappings else "no landmark.onnx (--landmark)"
        mappings[name] = cls
        ran[name] = f"stand-in: {why} (MediaPipe face box, synthetic landmarks)"
    return ran
