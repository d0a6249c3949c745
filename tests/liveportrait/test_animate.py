"""The idle animation on a real (random-weight, shrunken) LivePortrait: keypoints, frames, paste-back, MP4."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import av
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from comfy_image.nodes.idle_portrait.animate import RenderOptions, render_clip
from comfy_image.nodes.idle_portrait.keypoints import NUM_KP
from comfy_image.nodes.idle_portrait.motion import IdleMotion, MotionStyle, generate_motion
from comfy_image.nodes.idle_portrait.render import BlinkMethod, IdleAnimator, NoFaceInCropError, SourceFace
from tests.liveportrait.tiny_liveportrait import INPUT


def still(frames: int, **curves: np.ndarray) -> IdleMotion:
    zeros = {k: np.zeros(frames) for k in ("blink", "pitch", "yaw", "roll", "smile")}
    return IdleMotion(fps=25.0, style=MotionStyle.CALM, **{**zeros, **curves})


def animator(pipeline: Any, crop_info: dict[str, Any], **kw: Any) -> IdleAnimator:
    return IdleAnimator(pipeline, SourceFace.from_crop_info(crop_info), **kw)


@pytest.mark.parametrize("method", list(BlinkMethod))
def test_zero_motion_reproduces_source_keypoints(pipeline: Any, crop_info: dict[str, Any], method: BlinkMethod) -> None:
    x_d = animator(pipeline, crop_info, blink_method=method).keypoints(still(3), 0, 3)
    x_s = crop_info["x_s_list"][0]
    assert x_d.shape == (3, NUM_KP, 3)
    torch.testing.assert_close(x_d, x_s.expand(3, NUM_KP, 3), atol=1e-5, rtol=0)


def test_head_sway_rotates_the_canonical_keypoints(pipeline: Any, crop_info: dict[str, Any]) -> None:
    motion = still(2, pitch=np.array([0.0, 2.0]), yaw=np.array([0.0, -3.0]), roll=np.array([0.0, 1.5]))
    x_d = animator(pipeline, crop_info).keypoints(motion, 0, 2)
    info = crop_info["source_info"][0]
    # Undo scale, expression and translation: what is left must be kp rotated by (source pose + delta).
    t = info["t"].clone()
    t[..., 2] = 0
    rotated = (x_d[1] - t) / info["scale"] - info["exp"][0]
    angles = [info[a].item() + d for a, d in (("pitch", 2.0), ("yaw", -3.0), ("roll", 1.5))]
    # LivePortrait multiplies row vectors by (Rz·Ry·Rx)^T; scipy's extrinsic "xyz" matrix is Rz·Ry·Rx.
    expected = info["kp"][0].double().numpy() @ Rotation.from_euler("xyz", angles, degrees=True).as_matrix().T
    np.testing.assert_allclose(rotated.numpy(), expected, atol=1e-4)
    assert not torch.allclose(x_d[0], x_d[1], atol=1e-3)


def test_expression_blink_closes_the_lids_only_during_blinks(pipeline: Any, crop_info: dict[str, Any]) -> None:
    motion = generate_motion(125, 25, "calm", intensity=0.0, seed=1)  # no sway: only blinks move keypoints
    anim = animator(pipeline, crop_info, blink_method=BlinkMethod.EXPRESSION)
    delta = anim.keypoints(motion, 0, motion.frames) - crop_info["x_s_list"][0]
    moving = delta.abs().amax(dim=(1, 2)) > 1e-6
    np.testing.assert_array_equal(moving.numpy(), motion.blink > 0)
    peak = int(np.argmax(motion.blink))
    scale = crop_info["source_info"][0]["scale"].item()
    # Upper-lid keypoints 11 and 15 move by 0.02 * closure * scale (the blink slider's offsets at -20).
    for kp in (11, 15):
        assert delta[peak, kp, 1].item() == pytest.approx(0.02 * motion.blink[peak] * scale, rel=1e-4)
    assert delta[peak].abs().sum(dim=1).argsort(descending=True)[:2].sort().values.tolist() == [11, 15]


def test_retargeted_blink_follows_closure(pipeline: Any, crop_info: dict[str, Any]) -> None:
    closure = np.array([0.0, 0.25, 0.5, 1.0, 0.0])
    anim = animator(pipeline, crop_info, blink_method=BlinkMethod.RETARGET)
    delta = anim.keypoints(still(5, blink=closure), 0, 5) - crop_info["x_s_list"][0]
    size = delta.abs().sum(dim=(1, 2)).numpy()
    assert size[0] < 1e-5 and size[4] < 1e-5  # open eyes: exactly the source
    assert size[1] > 0 and size[2] > 0 and size[3] > 0
    assert anim.blink_method is BlinkMethod.RETARGET


def test_retarget_falls_back_without_landmarks(pipeline: Any, crop_info: dict[str, Any]) -> None:
    entry = {k: v for k, v in crop_info["crop_info_list"][0].items() if k != "lmk_crop"}
    no_lmk = {**crop_info, "crop_info_list": [entry]}
    assert animator(pipeline, no_lmk).blink_method is BlinkMethod.EXPRESSION


def test_smile_moves_mouth_keypoints(pipeline: Any, crop_info: dict[str, Any]) -> None:
    x_d = animator(pipeline, crop_info).keypoints(still(2, smile=np.array([0.0, 0.8])), 0, 2)
    delta = (x_d[1] - x_d[0]).abs().sum(dim=1)
    assert set(delta.argsort(descending=True)[:2].tolist()) == {14, 20}  # the mouth corners/lips lead


def test_frames_have_the_decoder_size_and_range(pipeline: Any, crop_info: dict[str, Any]) -> None:
    motion = generate_motion(3, 25, "cheerful", 1.0, seed=0)
    anim = animator(pipeline, crop_info)
    frames = anim.render(motion, 0, 3)
    assert frames.shape == (3, 2 * INPUT, 2 * INPUT, 3) and frames.dtype == np.uint8
    assert frames.std() > 1  # not a blank image


def test_zero_motion_without_stitching_is_the_plain_reconstruction(pipeline: Any, crop_info: dict[str, Any]) -> None:
    frames = animator(pipeline, crop_info, stitching=False).render(still(1), 0, 1)
    wrapper = pipeline.live_portrait_wrapper
    with torch.inference_mode():
        x_s = crop_info["x_s_list"][0]
        out = wrapper.warp_decode(crop_info["f_s_list"][0], x_s, x_s)["out"]
    expected = (out.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()[0]
    assert np.abs(frames[0].astype(int) - expected).max() <= 1


def test_motion_changes_frames_and_batches_agree(pipeline: Any, crop_info: dict[str, Any]) -> None:
    motion = still(3, yaw=np.array([0.0, 5.0, 15.0]))
    anim = animator(pipeline, crop_info)
    one_by_one = np.concatenate(list(anim.frames(motion, batch_size=1)))
    batched = np.concatenate(list(anim.frames(motion, batch_size=3)))
    assert np.abs(one_by_one.astype(int) - batched.astype(int)).max() <= 2
    change = [np.abs(one_by_one[i].astype(int) - one_by_one[0]).mean() for i in range(1, 3)]
    assert change[0] > 0.05 and change[1] > change[0]


def test_no_face_in_crop_info_is_a_clear_error(pipeline: Any, crop_info: dict[str, Any]) -> None:
    empty = {**crop_info, "crop_info_list": [None]}
    with pytest.raises(NoFaceInCropError, match="No face"):
        SourceFace.from_crop_info(empty)


def decode(data: bytes | Any) -> tuple[SimpleNamespace, np.ndarray]:
    with av.open(data) as container:
        stream = container.streams.video[0]
        meta = SimpleNamespace(
            codec=stream.codec_context.name,
            pix_fmt=stream.format.name,
            fps=float(stream.average_rate),
            width=stream.width,
            height=stream.height,
        )
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
    return meta, frames


def test_clip_is_composited_into_the_photo_as_h264(
    pipeline: Any, crop_info: dict[str, Any], astronaut: np.ndarray
) -> None:
    motion = generate_motion(12, 10, "nods", 2.0, seed=3)
    motion = dataclasses.replace(motion, yaw=np.linspace(0, 10, 12), blink=np.where(np.arange(12) == 6, 1.0, 0.0))
    ticks: list[int] = []
    buffer = render_clip(pipeline, crop_info, astronaut, motion, RenderOptions(batch_size=8), ticks.append)
    meta, frames = decode(buffer)
    assert (meta.codec, meta.pix_fmt, meta.fps, meta.width, meta.height) == ("h264", "yuv420p", 10.0, 512, 512)
    assert frames.shape == (12, 512, 512, 3)
    assert sum(ticks) == 12
    # Far from the face the photo is untouched (up to compression); the face region animates.
    corner = np.abs(frames[:, 400:, 400:].astype(int) - astronaut[400:, 400:]).mean()
    assert corner < 3
    face = frames[:, 40:150, 170:260].astype(int)
    assert np.abs(face - face[0]).mean(axis=(1, 2, 3)).max() > 2


def test_odd_photo_sides_are_trimmed_for_yuv420(pipeline: Any, astronaut: np.ndarray) -> None:
    from tests.liveportrait.conftest import ASTRONAUT_FACE
    from tests.liveportrait.tiny_liveportrait import crop_face

    odd = np.ascontiguousarray(astronaut[:301, :299])
    info = crop_face(pipeline, odd, ASTRONAUT_FACE)[1]
    meta, frames = decode(render_clip(pipeline, info, odd, generate_motion(3, 25, seed=0)))
    assert (meta.width, meta.height, len(frames)) == (298, 300, 3)


def test_crop_info_for_another_image_is_rejected(
    pipeline: Any, crop_info: dict[str, Any], astronaut: np.ndarray
) -> None:
    with pytest.raises(ValueError, match="crop_info is for"):
        render_clip(pipeline, crop_info, astronaut[:256], generate_motion(2, 25))
