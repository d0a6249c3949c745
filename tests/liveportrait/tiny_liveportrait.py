"""A random-weight LivePortrait, small enough for CPU tests, behind the KJ pack's interfaces.

The networks are the real LivePortrait modules (PyPI mimic-head, identical to the KJ pack's copies) with
shrunken widths; ``TinyWrapper`` has the method names and tensor contracts of KJ's LivePortraitWrapper and
``crop_face`` builds a CROPINFO the way KJ's LivePortraitCropper does. Only the face landmarks and the
weights are synthetic: no real weights can be downloaded here.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import torch
from mimic_head.modules.appearance_feature_extractor import AppearanceFeatureExtractor
from mimic_head.modules.motion_extractor import MotionExtractor
from mimic_head.modules.spade_generator import SPADEDecoder
from mimic_head.modules.stitching_retargeting_network import StitchingRetargetingNetwork
from mimic_head.modules.warping_network import WarpingNetwork
from scipy.spatial.transform import Rotation

INPUT = 64  # network input side; the decoder doubles it

_F = dict(
    image_channel=3,
    block_expansion=8,
    num_down_blocks=2,
    max_features=64,
    reshape_channel=4,
    reshape_depth=16,
    num_resblocks=1,
)
_W = dict(
    num_kp=21,
    block_expansion=8,
    max_features=64,
    num_down_blocks=2,
    reshape_channel=4,
    estimate_occlusion_map=True,
    dense_motion_params=dict(block_expansion=8, max_features=32, num_blocks=2, reshape_depth=16, compress=2),
)
_G = dict(upscale=2, block_expansion=8, max_features=32, num_down_blocks=2)
_S = {
    "stitching": dict(input_size=126, hidden_sizes=[128, 128, 64], output_size=65),
    "lip": dict(input_size=65, hidden_sizes=[128, 128, 64], output_size=63),
    "eye": dict(input_size=66, hidden_sizes=[256, 256, 128, 128, 64], output_size=63),
}


def _degrees(bins: torch.Tensor) -> torch.Tensor:
    idx = torch.arange(66, dtype=torch.float32)
    return (torch.softmax(bins, dim=1) * idx).sum(1, keepdim=True) * 3 - 97.5


def _rotation(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Independent of our code: scipy's extrinsic x-y-z Euler matrix is Rz·Ry·Rx; LivePortrait uses its transpose."""
    angles = torch.stack([pitch.reshape(-1), yaw.reshape(-1), roll.reshape(-1)], 1).double().numpy()
    mats = Rotation.from_euler("xyz", angles, degrees=True).as_matrix().transpose(0, 2, 1)
    return torch.from_numpy(mats).float()


class TinyWrapper:
    """KJ LivePortraitWrapper's methods over random-weight networks (fp32, CPU)."""

    def __init__(self, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.appearance_feature_extractor = AppearanceFeatureExtractor(**_F).eval()
        self.motion_extractor = MotionExtractor(num_kp=21, backbone="convnextv2_tiny").eval()
        self.warping_module = WarpingNetwork(**_W).eval()
        self.spade_generator = SPADEDecoder(**_G).eval()
        self.stitching_retargeting_module = {k: StitchingRetargetingNetwork(**v).eval() for k, v in _S.items()}
        head = self.motion_extractor.detector
        with torch.no_grad():
            # Random heads put every keypoint near 0; bias them into a face-sized spread and unit-ish scale.
            head.fc_kp.bias.copy_(torch.rand(63, generator=torch.Generator().manual_seed(seed)) * 1.4 - 0.7)
            head.fc_scale.bias.fill_(1.3)
        self.device_id = torch.device("cpu")
        self.cfg = SimpleNamespace(
            flag_use_half_precision=False,
            input_shape=(INPUT, INPUT),
            device_id=self.device_id,
            flag_stitching=True,
            flag_eye_retargeting=False,
            flag_lip_retargeting=False,
        )

    def prepare_source(self, img: np.ndarray) -> torch.Tensor:
        x = cv2.resize(img, self.cfg.input_shape) if img.shape[:2] != self.cfg.input_shape else img
        return torch.from_numpy(x.astype(np.float32) / 255.0).permute(2, 0, 1)[None].clamp(0, 1)

    def extract_feature_3d(self, x: torch.Tensor) -> torch.Tensor:
        return self.appearance_feature_extractor(x).float()

    def get_kp_info(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        info = dict(self.motion_extractor(x))
        for name in ("pitch", "yaw", "roll"):
            info[name] = _degrees(info[name])
        info["kp"] = info["kp"].reshape(x.shape[0], 21, 3)
        info["exp"] = info["exp"].reshape(x.shape[0], 21, 3)
        return info

    def transform_keypoint(self, info: dict[str, torch.Tensor]) -> torch.Tensor:
        rot = _rotation(info["pitch"], info["yaw"], info["roll"])
        x = (info["kp"] @ rot + info["exp"]) * info["scale"][..., None]
        x[..., :2] += info["t"][:, None, :2]
        return x

    def stitching(self, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        bs = x_s.shape[0]
        delta = self.stitching_retargeting_module["stitching"](torch.cat([x_s.view(bs, -1), x_d.view(bs, -1)], 1))
        out = x_d + delta[:, :63].view(bs, 21, 3)
        out[..., :2] += delta[:, 63:65].view(bs, 1, 2)
        return out

    def retarget_eye(self, x_s: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        return self.stitching_retargeting_module["eye"](torch.cat([x_s.view(x_s.shape[0], -1), ratio], 1))

    def warp_decode(self, f_s: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> dict[str, torch.Tensor]:
        ret = self.warping_module(f_s, kp_source=x_s, kp_driving=x_d)
        ret["out"] = self.spade_generator(feature=ret["out"])
        return {k: v.cpu() for k, v in ret.items()}


def tiny_pipeline(seed: int = 0) -> SimpleNamespace:
    """A LIVEPORTRAITPIPE stand-in: KJ's LivePortraitPipeline only exposes ``live_portrait_wrapper``."""
    return SimpleNamespace(live_portrait_wrapper=TinyWrapper(seed))


def synthetic_landmarks(box: tuple[float, float, float, float], eye_open: float = 0.35) -> np.ndarray:
    """203 landmarks with eye corners and lids where LivePortrait's ratio indices expect them."""
    x0, y0, x1, y1 = box
    lmk = np.tile([(x0 + x1) / 2, (y0 + y1) / 2], (203, 1)).astype(np.float64)
    width = (x1 - x0) * 0.18
    for corner_a, corner_b, lid_a, lid_b, cx in (
        (0, 12, 6, 18, x0 + 0.32 * (x1 - x0)),
        (24, 36, 30, 42, x0 + 0.68 * (x1 - x0)),
    ):
        cy = y0 + 0.4 * (y1 - y0)
        lmk[corner_a], lmk[corner_b] = (cx - width / 2, cy), (cx + width / 2, cy)
        lmk[lid_a], lmk[lid_b] = (cx, cy - eye_open * width / 2), (cx, cy + eye_open * width / 2)
    return lmk


def crop_face(
    pipeline: Any, photo: np.ndarray, box: tuple[float, float, float, float], dsize: int = 512, scale: float = 2.3
) -> tuple[np.ndarray, dict[str, Any]]:
    """What LivePortraitCropper returns for one photo: the 256 crop and CROPINFO, from a face box."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * scale
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.125 * side / scale
    k = dsize / side
    m_o2c = np.array([[k, 0, dsize / 2 - k * cx], [0, k, dsize / 2 - k * cy], [0, 0, 1]], dtype=np.float32)
    m_c2o = np.linalg.inv(m_o2c).astype(np.float32)
    crop = cv2.warpAffine(photo, m_o2c[:2], (dsize, dsize), flags=cv2.INTER_LINEAR)
    crop_256 = cv2.resize(crop, (256, 256), interpolation=cv2.INTER_AREA)
    lmk = synthetic_landmarks(box)
    pt_crop = (np.c_[lmk, np.ones(len(lmk))] @ m_o2c.T)[:, :2]
    wrapper = pipeline.live_portrait_wrapper
    with torch.inference_mode():
        x = wrapper.prepare_source(crop_256)
        info = wrapper.get_kp_info(x)
        x_s = wrapper.transform_keypoint(info)
        f_s = wrapper.extract_feature_3d(x)
    entry = {
        "M_o2c": m_o2c,
        "M_c2o": m_c2o,
        "pt_crop": pt_crop,
        "pt_crop_256x256": pt_crop * 256 / dsize,
        "input_image_size": photo.shape[:2],
        "lmk_crop": lmk,
    }
    crop_info = {
        "crop_info_list": [entry],
        "source_info": [info],
        "source_rot_list": [None],
        "f_s_list": [f_s],
        "x_s_list": [x_s],
    }
    return crop_256, crop_info
