"""Seeded procedural idle motion for a portrait: natural blinks, slow head sway, optional smile or nods.

Pure numpy, no ComfyUI or torch: the node turns these per-frame curves into keypoint edits. Numbers follow
the blink and postural-sway literature summarised in docs/liveportrait.md (blinks every ~2-6 s, closing
faster than opening, about a third partial; head sway of about a degree, slow and smooth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


class MotionStyle(StrEnum):
    CALM = "calm"
    CHEERFUL = "cheerful"
    NODS = "nods"


@dataclass(frozen=True)
class Blink:
    """One blink in frames: closing, held shut, opening; ``depth`` 1.0 is fully closed."""

    start: int
    close_frames: int
    hold_frames: int
    open_frames: int
    depth: float

    @property
    def frames(self) -> int:
        return self.close_frames + self.hold_frames + self.open_frames


@dataclass(frozen=True)
class IdleMotion:
    """Per-frame curves. Angles are deltas in degrees added to the source pose; 0 everywhere = the photo."""

    fps: float
    style: MotionStyle
    blink: FloatArray  # eyelid closure, 0 open .. 1 shut
    pitch: FloatArray  # sign as in LivePortrait's head pose
    yaw: FloatArray
    roll: FloatArray
    smile: FloatArray  # 0 neutral .. ~1 broad smile (AdvancedLivePortrait's smile scale)
    blinks: tuple[Blink, ...] = field(default=())

    @property
    def frames(self) -> int:
        return int(self.blink.shape[0])


# Head sway standard deviations in degrees at intensity 1 (quiet sitting: SD <= 1.4 deg, yaw >= pitch > roll).
_SWAY_SD = {"yaw": 1.2, "pitch": 0.8, "roll": 0.5}
_SWAY_CORNER_HZ = 0.3  # slow "rambling" sway; three poles make it smooth, with no frame jumps
_FADE_IN_S = 0.6  # frame 0 shows the photo as it is, motion eases in


def resolve_style(name: str | None) -> tuple[MotionStyle, bool]:
    """The style to run for a name, and whether the name was recognised (unknown -> calm)."""
    if name is None or not name.strip():
        return MotionStyle.CALM, True
    try:
        return MotionStyle(name.strip().lower()), True
    except ValueError:
        return MotionStyle.CALM, False


def generate_motion(
    frames: int, fps: float, style: str | MotionStyle = MotionStyle.CALM, intensity: float = 1.0, seed: int = 0
) -> IdleMotion:
    """Idle motion for ``frames`` frames at ``fps``; the same arguments always give the same curves.

    ``intensity`` scales head motion and smile (0 = blinks only, 2 = lively); blinks keep natural depth.
    """
    if frames < 1:
        raise ValueError("frames must be >= 1")
    if fps <= 0:
        raise ValueError("fps must be > 0")
    if not 0.0 <= intensity <= 3.0:
        raise ValueError("intensity must be within 0..3")
    run_style, _ = resolve_style(str(style))
    rng = np.random.default_rng(seed)
    blink_rng, sway_rng, style_rng = rng.spawn(3)

    blinks = _schedule_blinks(frames, fps, blink_rng)
    blink = _render_blinks(frames, blinks)
    envelope = _fade_in(frames, fps)
    sway_gain = 1.15 if run_style is MotionStyle.CHEERFUL else 1.0
    angles = {
        axis: _smooth_noise(frames, fps, sd * sway_gain * intensity, sway_rng) * envelope
        for axis, sd in _SWAY_SD.items()
    }
    smile = np.zeros(frames)
    if run_style is MotionStyle.CHEERFUL:
        smile = _smile_curve(frames, fps, style_rng) * min(intensity, 1.6)
    elif run_style is MotionStyle.NODS:
        angles["pitch"] = angles["pitch"] + _nod_curve(frames, fps, style_rng) * intensity
    return IdleMotion(
        fps=float(fps),
        style=run_style,
        blink=blink,
        pitch=angles["pitch"],
        yaw=angles["yaw"],
        roll=angles["roll"],
        smile=smile,
        blinks=tuple(blinks),
    )


def _schedule_blinks(frames: int, fps: float, rng: np.random.Generator) -> list[Blink]:
    """Blink onsets with log-normal gaps (median ~3.3 s, 1.8-6.5 s), each closing faster than it opens."""
    blinks: list[Blink] = []
    t = rng.uniform(0.7, 2.2)  # the first blink comes soon: a still opening looks like a photo
    while True:
        start = round(t * fps)
        close_frames = max(1, round(rng.uniform(0.07, 0.10) * fps))
        hold_frames = int(rng.integers(0, 2)) if fps >= 20 else 0
        open_frames = max(close_frames + 1, round(close_frames * rng.uniform(1.4, 1.9)))
        partial = rng.random() < 0.33
        depth = rng.uniform(0.6, 0.8) if partial else rng.uniform(0.95, 1.0)
        blink = Blink(start, close_frames, hold_frames, open_frames, float(depth))
        if start + blink.frames > frames:
            return blinks
        blinks.append(blink)
        gap = float(np.clip(rng.lognormal(np.log(3.3), 0.35), 1.8, 6.5))
        t = (start + blink.frames) / fps + gap


def _render_blinks(frames: int, blinks: list[Blink]) -> FloatArray:
    closure = np.zeros(frames)
    for b in blinks:
        # Closing eases in and peaks on a frame so the closure is really seen; opening eases out, slower.
        close = (1 - np.cos(np.pi * np.arange(1, b.close_frames + 1) / b.close_frames)) / 2
        hold = np.ones(b.hold_frames)
        opening = (1 + np.cos(np.pi * np.arange(1, b.open_frames + 1) / b.open_frames)) / 2
        curve = np.concatenate([close, hold, opening]) * b.depth
        closure[b.start : b.start + b.frames] = curve
    return closure


def _fade_in(frames: int, fps: float) -> FloatArray:
    u = np.clip(np.arange(frames) / (_FADE_IN_S * fps), 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _smooth_noise(frames: int, fps: float, sd: float, rng: np.random.Generator) -> FloatArray:
    """Band-limited sway: white noise through three one-pole low-passes, scaled to ``sd`` and softly bounded."""
    if sd == 0.0:
        return np.zeros(frames)
    alpha = 1.0 - np.exp(-2 * np.pi * _SWAY_CORNER_HZ / fps)
    warm = int(4 * fps / _SWAY_CORNER_HZ / (2 * np.pi)) + 1  # settle the filter so frame 0 is not special
    noise = rng.standard_normal(frames + warm)
    out = _one_pole(_one_pole(_one_pole(noise, alpha), alpha), alpha)[warm:]
    out = out - out.mean()
    spread = out.std()
    out = out / spread * sd if spread > 0 else out
    bounded: FloatArray = 3 * sd * np.tanh(out / (3 * sd))  # bounded at 3 SD without a visible kink
    return bounded


def _one_pole(x: FloatArray, alpha: float) -> FloatArray:
    # A loop over a few hundred samples is ~0.1 ms; scipy.signal.lfilter would add a dependency for nothing.
    y = np.empty_like(x)
    acc = x[0]
    for i, value in enumerate(x):
        acc += alpha * (value - acc)
        y[i] = acc
    return y


def _smile_curve(frames: int, fps: float, rng: np.random.Generator) -> FloatArray:
    """A slow smile: rises over 1.5-3 s, holds with gentle breathing, may relax and return."""
    t = np.arange(frames) / fps
    smile = np.zeros(frames)
    onset = rng.uniform(0.5, 1.5)
    while onset < t[-1]:
        rise = rng.uniform(1.5, 3.0)
        hold = rng.uniform(4.0, 8.0)
        level = rng.uniform(0.55, 0.8)
        up = np.clip((t - onset) / rise, 0, 1)
        down = np.clip((t - onset - rise - hold) / rise, 0, 1)
        shape = _ease(up) - _ease(down)
        smile = np.maximum(smile, level * shape)
        onset += rise + hold + rise * rng.uniform(0.6, 1.2)
    breathing = 0.06 * np.sin(2 * np.pi * t / rng.uniform(3.5, 5.0) + rng.uniform(0, 2 * np.pi))
    curve: FloatArray = np.clip(smile * (1 + breathing), 0.0, 1.0)
    return curve


def _nod_curve(frames: int, fps: float, rng: np.random.Generator) -> FloatArray:
    """Gentle nods: a 1.5-3 deg dip of the chin and back over ~1.2 s, singly or in pairs, every 3-6 s."""
    t = np.arange(frames) / fps
    pitch = np.zeros(frames)
    start = rng.uniform(1.0, 2.5)
    while start < t[-1]:
        for _ in range(int(rng.integers(1, 3))):
            length = rng.uniform(1.0, 1.4)
            depth = rng.uniform(1.5, 3.0)
            u = np.clip((t - start) / length, 0, 1)
            pitch += depth * (1 - np.cos(2 * np.pi * u)) / 2
            start += length * rng.uniform(1.0, 1.15)
        start += rng.uniform(3.0, 6.0)
    return pitch


def _ease(u: FloatArray) -> FloatArray:
    return u * u * (3 - 2 * u)
