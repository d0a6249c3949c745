"""ComfyUI node: animate one portrait with procedural idle motion through the KJ LivePortrait pipeline."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from .animate import RenderOptions, render_clip
from .motion import MotionStyle, generate_motion, resolve_style
from .render import BlinkMethod

log = logging.getLogger(__name__)


class LivePortraitIdleAnimation:
    """LIVEPORTRAITPIPE + CROPINFO + the photo -> an H.264 MP4 (VIDEO) of the face blinking and gently moving."""

    CATEGORY = "LivePortrait"
    FUNCTION = "animate"
    RETURN_TYPES = ("VIDEO", "INT")
    RETURN_NAMES = ("video", "frame_count")
    DESCRIPTION = "Seeded natural blinks and head sway (calm / cheerful / nods) applied to LivePortrait's keypoints."
    STYLES: ClassVar[list[str]] = [s.value for s in MotionStyle]

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "pipeline": ("LIVEPORTRAITPIPE",),
                "crop_info": ("CROPINFO",),
                "source_image": ("IMAGE",),
                "duration_s": ("FLOAT", {"default": 10.0, "min": 0.2, "max": 30.0, "step": 0.1}),
                "fps": ("INT", {"default": 25, "min": 8, "max": 60}),
                "style": (cls.STYLES, {"default": MotionStyle.CALM.value}),
                "intensity": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 2.0, "step": 0.05}),
                "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF}),
            },
            "optional": {
                "stitching": ("BOOLEAN", {"default": True}),
                "blink_method": ([m.value for m in BlinkMethod], {"default": BlinkMethod.RETARGET.value}),
                "crf": ("INT", {"default": 20, "min": 12, "max": 35}),
                "batch_size": ("INT", {"default": 8, "min": 1, "max": 64}),
            },
        }

    def animate(
        self,
        pipeline: Any,
        crop_info: dict[str, Any],
        source_image: Any,
        duration_s: float,
        fps: int,
        style: str,
        intensity: float,
        seed: int,
        stitching: bool = True,
        blink_method: str = BlinkMethod.RETARGET.value,
        crf: int = 20,
        batch_size: int = 8,
    ) -> tuple[Any, int]:
        import comfy.model_management as mm
        import comfy.utils
        from comfy_api.input_impl import VideoFromFile

        run_style, known = resolve_style(style)
        if not known:
            log.warning("unknown idle-motion style %r, running %s", style, run_style.value)
        frames = max(1, round(duration_s * fps))
        motion = generate_motion(frames, fps, run_style, intensity, seed)
        photo = (source_image[0, ..., :3].clamp(0, 1) * 255).round().byte().cpu().numpy().astype(np.uint8)
        progress = comfy.utils.ProgressBar(frames)

        def on_chunk(done: int) -> None:
            mm.throw_exception_if_processing_interrupted()
            if done:
                progress.update(done)

        options = RenderOptions(stitching, BlinkMethod(blink_method), crf, batch_size)
        buffer = render_clip(pipeline, crop_info, photo, motion, options, on_chunk)
        log.info(
            "idle animation: %d frames, style %s, %d blinks, %d bytes",
            frames,
            run_style,
            len(motion.blinks),
            buffer.getbuffer().nbytes,
        )
        return VideoFromFile(buffer), frames
