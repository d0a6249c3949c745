"""The idle-motion generator: natural, bounded, smooth, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from comfy_image.nodes.idle_portrait.motion import MotionStyle, generate_motion, resolve_style

FPS = 25


@pytest.mark.parametrize("style", list(MotionStyle))
def test_same_seed_same_motion(style: MotionStyle) -> None:
    a = generate_motion(250, FPS, style, 1.0, seed=7)
    b = generate_motion(250, FPS, style, 1.0, seed=7)
    for name in ("blink", "pitch", "yaw", "roll", "smile"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_seeds_give_different_motion() -> None:
    runs = [generate_motion(250, FPS, "calm", 1.0, seed=s) for s in range(6)]
    yaws = {r.yaw.round(6).tobytes() for r in runs}
    blink_starts = {tuple(b.start for b in r.blinks) for r in runs}
    assert len(yaws) == 6
    assert len(blink_starts) == 6


@pytest.mark.parametrize("seconds", [10, 15, 20])
def test_blink_rate_and_duration_are_natural(seconds: int) -> None:
    for seed in range(20):
        motion = generate_motion(seconds * FPS, FPS, "calm", 1.0, seed=seed)
        # Resting blink rates are ~8-26 per minute.
        per_minute = len(motion.blinks) * 60 / seconds
        assert 6 <= per_minute <= 30, (seed, per_minute)
        onsets = [b.start / FPS for b in motion.blinks]
        assert onsets[0] <= 3.0  # a clip never opens with a long stare
        gaps = np.diff(onsets)
        assert gaps.size == 0 or (gaps.min() >= 1.8 and gaps.max() <= 7.0)
        for blink in motion.blinks:
            assert 0.1 <= blink.frames / FPS <= 0.4
            assert blink.close_frames < blink.open_frames  # closing is faster than opening
            peak = motion.blink[blink.start : blink.start + blink.frames].max()
            assert peak == pytest.approx(blink.depth)


def test_some_blinks_are_partial_and_eyes_are_open_between_blinks() -> None:
    depths = [b.depth for s in range(20) for b in generate_motion(500, FPS, "calm", 1.0, seed=s).blinks]
    partial = sum(d < 0.9 for d in depths) / len(depths)
    assert 0.15 < partial < 0.5
    motion = generate_motion(500, FPS, "calm", 1.0, seed=3)
    inside = np.zeros(500, dtype=bool)
    for b in motion.blinks:
        inside[b.start : b.start + b.frames] = True
    assert np.all(motion.blink[~inside] == 0)
    assert motion.blink.min() >= 0 and motion.blink.max() <= 1


@pytest.mark.parametrize("style", list(MotionStyle))
def test_head_angles_are_small_and_smooth(style: MotionStyle) -> None:
    for seed in range(10):
        motion = generate_motion(500, FPS, style, 1.0, seed=seed)
        for axis in (motion.yaw, motion.roll, motion.pitch):
            assert np.abs(axis).max() <= 8.0
            # No per-frame jumps: well under a degree from one frame to the next at 25 fps.
            assert np.abs(np.diff(axis)).max() < 0.5
            # A frame-to-frame "acceleration" this small means no jitter.
            assert np.abs(np.diff(axis, 2)).max() < 0.12
        assert np.abs(motion.yaw).max() >= 0.5  # it does move
        assert np.abs(np.diff(motion.smile)).max() < 0.05


def test_clip_starts_at_the_photo() -> None:
    motion = generate_motion(250, FPS, "nods", 1.5, seed=1)
    assert motion.yaw[0] == motion.pitch[0] == motion.roll[0] == motion.smile[0] == motion.blink[0] == 0.0


def test_intensity_scales_head_motion_not_blinks() -> None:
    still = generate_motion(250, FPS, "calm", 0.0, seed=4)
    normal = generate_motion(250, FPS, "calm", 1.0, seed=4)
    lively = generate_motion(250, FPS, "calm", 2.0, seed=4)
    assert np.all(still.yaw == 0) and np.all(still.pitch == 0) and np.all(still.roll == 0)
    assert np.abs(lively.yaw).max() > 1.5 * np.abs(normal.yaw).max()
    np.testing.assert_array_equal(still.blink, lively.blink)


def test_styles_differ_as_named() -> None:
    calm = generate_motion(375, FPS, "calm", 1.0, seed=5)
    cheerful = generate_motion(375, FPS, "cheerful", 1.0, seed=5)
    nods = generate_motion(375, FPS, "nods", 1.0, seed=5)
    assert calm.smile.max() == 0 and nods.smile.max() == 0
    assert cheerful.smile.max() > 0.4  # a real, slow smile
    assert np.argmax(cheerful.smile > 0.4) / FPS > 1.0
    # Nods dip the pitch by several degrees, far beyond calm sway.
    assert (nods.pitch - calm.pitch).max() > 1.4
    assert np.ptp(nods.pitch) > 2 * np.ptp(calm.pitch) * 0.9


def test_unknown_style_runs_calm() -> None:
    assert resolve_style("dancing") == (MotionStyle.CALM, False)
    assert resolve_style(" Cheerful ") == (MotionStyle.CHEERFUL, True)
    assert resolve_style(None) == (MotionStyle.CALM, True)
    assert generate_motion(50, FPS, "dancing", 1.0, 0).style is MotionStyle.CALM


def test_other_frame_rates_keep_timing() -> None:
    for fps in (15, 30):
        motion = generate_motion(10 * fps, fps, "calm", 1.0, seed=2)
        for blink in motion.blinks:
            assert 0.1 <= blink.frames / fps <= 0.45


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        generate_motion(0, FPS)
    with pytest.raises(ValueError):
        generate_motion(10, 0)
    with pytest.raises(ValueError):
        generate_motion(10, FPS, intensity=-1)
