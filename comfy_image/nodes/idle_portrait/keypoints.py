"""Implicit-keypoint edits for LivePortrait: head rotation, smile and eyelid deltas.

LivePortrait moves a face by moving 21 implicit 3-D keypoints: x = s * (kp_c @ R + exp) + t. We drive the
source keypoints with x_d = s * (kp_c @ R(theta_s + d_theta) + exp_s + d_exp) + (t_x, t_y, 0), which is
exactly the source's x_s when every delta is zero. Axes: x right, y down, z into the image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

NUM_KP = 21

# Expression offsets per unit of slider, (keypoint, axis, coefficient): the values AdvancedLivePortrait and
# LivePortrait's own gradio editor use for their smile and blink sliders.
_SMILE = (
    (20, 1, -0.01),
    (14, 1, -0.02),
    (17, 1, 0.0065),
    (17, 2, 0.003),
    (13, 1, -0.00275),
    (16, 1, -0.00275),
    (3, 1, -0.0035),
    (7, 1, -0.0035),
)
_BLINK = ((11, 1, -0.001), (15, 1, -0.001), (13, 1, 0.0003), (16, 1, 0.0003), (1, 1, -0.00025), (2, 1, 0.00025))
# The blink slider closes the eyes at about -20 (its minimum); closure 1.0 maps there.
_BLINK_SHUT = -20.0


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """(B,) angles in degrees -> (B, 3, 3) matrices for row vectors (``kp @ R``), LivePortrait's convention."""
    p, y, r = (torch.deg2rad(a.reshape(-1).float()) for a in (pitch, yaw, roll))
    one, zero = torch.ones_like(p), torch.zeros_like(p)
    rot_x = torch.stack([one, zero, zero, zero, p.cos(), -p.sin(), zero, p.sin(), p.cos()], 1).view(-1, 3, 3)
    rot_y = torch.stack([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], 1).view(-1, 3, 3)
    rot_z = torch.stack([r.cos(), -r.sin(), zero, r.sin(), r.cos(), zero, zero, zero, one], 1).view(-1, 3, 3)
    return (rot_z @ rot_y @ rot_x).transpose(1, 2)


def _offsets(table: tuple[tuple[int, int, float], ...], amount: torch.Tensor) -> torch.Tensor:
    unit = torch.zeros(NUM_KP, 3, dtype=torch.float32, device=amount.device)
    for kp, axis, coef in table:
        unit[kp, axis] += coef
    return amount.reshape(-1, 1, 1).float() * unit


def smile_delta(smile: torch.Tensor) -> torch.Tensor:
    """(B,) smile amounts (0 neutral .. ~1 broad) -> (B, 21, 3) expression offsets."""
    return _offsets(_SMILE, smile)


def blink_delta(closure: torch.Tensor) -> torch.Tensor:
    """(B,) eyelid closure (0 open .. 1 shut) -> (B, 21, 3) expression offsets (used without landmarks)."""
    return _offsets(_BLINK, closure * _BLINK_SHUT)


def drive_keypoints(
    source: dict[str, Any],
    d_pitch: torch.Tensor,
    d_yaw: torch.Tensor,
    d_roll: torch.Tensor,
    d_exp: torch.Tensor,
) -> torch.Tensor:
    """Driving keypoints (B, 21, 3) for per-frame pose deltas (degrees) and expression offsets (B, 21, 3)."""
    kp = source["kp"].reshape(1, NUM_KP, 3).float()
    exp = source["exp"].reshape(1, NUM_KP, 3).float()
    scale = source["scale"].reshape(1, 1, 1).float()
    t = source["t"].reshape(1, 1, 3).float().clone()
    t[..., 2] = 0.0  # LivePortrait never moves keypoints in depth
    rot = rotation_matrix(
        _degrees(source["pitch"]) + d_pitch, _degrees(source["yaw"]) + d_yaw, _degrees(source["roll"]) + d_roll
    )
    x_d: torch.Tensor = scale * (kp @ rot + exp + d_exp) + t
    return x_d


def _degrees(angle: torch.Tensor) -> torch.Tensor:
    """Head-pose angle in degrees; raw 66-bin logits are decoded the way the motion extractor defines them."""
    if angle.ndim > 1 and angle.shape[-1] == 66:
        bins = torch.arange(66, dtype=torch.float32, device=angle.device)
        return (torch.softmax(angle.float(), dim=-1) * bins).sum(-1) * 3 - 97.5
    return angle.reshape(-1).float()


def eye_open_ratios(landmarks: NDArray[Any]) -> tuple[float, float]:
    """Eye-opening ratios (lid gap / eye width) of the left and right eye from 203 LivePortrait landmarks."""
    lmk = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)

    def ratio(a: int, b: int, c: int, d: int) -> float:
        return float(np.linalg.norm(lmk[a] - lmk[b]) / (np.linalg.norm(lmk[c] - lmk[d]) + 1e-6))

    return ratio(6, 18, 0, 12), ratio(30, 42, 24, 36)
