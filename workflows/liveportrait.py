"""The ``liveportrait`` preset: one face photo -> a 10-20 s MP4 of it blinking and gently moving.

Graph (templates/liveportrait.json): LoadImage (1) -> KJ DownloadAndLoadLivePortraitModels (2),
LivePortraitLoadMediaPipeCropper (3), LivePortraitCropper (4) -> our LivePortraitIdleAnimation (5) -> SaveVideo (6).
The optional ``prompt`` picks the motion style by keywords; anything unrecognised runs ``calm`` and the job's
warnings say so. Nothing here imports ComfyUI or the worker: the bot uses this module too.
"""

from __future__ import annotations

import secrets
import unicodedata
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from workflows.preset import Binding, NodeInput, Preset
from workflows.text import normalise

# Motion styles of the LivePortraitIdleAnimation node (comfy_image/nodes/idle_portrait/motion.py MotionStyle).
STYLES: Final[tuple[str, ...]] = ("calm", "cheerful", "nods")
DEFAULT_STYLE: Final = "calm"
DURATIONS: Final[tuple[int, ...]] = (10, 15, 20)
SEED_MAX: Final = 2**64 - 1
PROMPT_MAX_CHARS: Final = 300
# A photo's shorter side below this holds no face big enough to animate: the worker's face check (face_check) and
# the bot (before anything is downloaded) refuse it alike.
PHOTO_MIN_SIDE: Final = 128
PHOTO_MAX_PIXELS: Final = 40_000_000  # bigger files are refused before decoding (decompression bombs)

# Word stems that select a style from free text (English and Russian), checked in this order.
STYLE_KEYWORDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("nods", ("nod", "agree", "yes", "кив", "соглас")),
    ("cheerful", ("cheer", "smil", "happy", "joy", "laugh", "glad", "friendly", "улыб", "весел", "радост")),
    ("calm", ("calm", "relax", "neutral", "still", "quiet", "serene", "спокой", "нейтрал")),
)

PHOTO_INPUT: Final[NodeInput] = ("1", "image")  # set by the worker to the staged, checked photo
ANIMATION_NODE: Final = "5"
VIDEO_NODE: Final = "6"


def random_seed() -> int:
    return secrets.randbelow(2**53)


def resolve_style(prompt: str | None) -> tuple[str, bool]:
    """(style to run, whether the prompt asked for one we know). No prompt means calm, and is not a miss."""
    text = unicodedata.normalize("NFKC", prompt or "").strip().lower()
    if not text:
        return DEFAULT_STYLE, True
    if text in STYLES:
        return text, True
    for style, stems in STYLE_KEYWORDS:
        if any(stem in text for stem in stems):
            return style, True
    return DEFAULT_STYLE, False


class LivePortraitParams(BaseModel):
    """Parameters of the ``liveportrait`` preset."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # The photo is not echoed back in the job's effective params (it can be megabytes of base64).
    photo: str = Field(min_length=1, exclude=True, repr=False, description="base64, data: URL or https URL")
    duration: Literal[10, 15, 20] = Field(default=10, description="clip length in seconds")
    fps: int = Field(default=25, ge=12, le=30)
    intensity: float = Field(default=1.0, ge=0.0, le=2.0, description="head motion and smile; 0 = blinks only")
    seed: int = Field(default_factory=random_seed, ge=0, le=SEED_MAX, description="random when absent or null")
    prompt: str | None = Field(default=None, max_length=PROMPT_MAX_CHARS, description="motion style in words")

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: Any) -> Any:
        return random_seed() if value is None else value

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompt(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return normalise(value) or None

    @model_validator(mode="before")
    @classmethod
    def _accept_echoed(cls, data: Any) -> Any:
        """Effective params carry ``style`` and ``frames``; accept them back when they agree with the rest."""
        if not isinstance(data, dict) or ("style" not in data and "frames" not in data):
            return data
        data = dict(data)
        style, frames = data.pop("style", None), data.pop("frames", None)
        prompt = data.get("prompt")
        if style is not None and style != resolve_style(prompt if isinstance(prompt, str) else None)[0]:
            raise ValueError("style follows prompt; to choose a style, put its name in prompt")
        duration, fps = data.get("duration", 10), data.get("fps", 25)
        if frames is not None and isinstance(duration, int) and isinstance(fps, int) and frames != duration * fps:
            raise ValueError("frames follows duration and fps")
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def style(self) -> str:
        return resolve_style(self.prompt)[0]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def frames(self) -> int:
        return self.duration * self.fps

    def style_warning(self) -> str | None:
        style, known = resolve_style(self.prompt)
        if known:
            return None
        return f"Motion style {self.prompt!r} is not known; ran '{style}' (known: {', '.join(STYLES)})."


def bind(params: LivePortraitParams) -> Binding:
    """Which template input each parameter sets (node ids are those of templates/liveportrait.json)."""
    return {
        (ANIMATION_NODE, "duration_s"): float(params.duration),
        (ANIMATION_NODE, "fps"): params.fps,
        (ANIMATION_NODE, "style"): params.style,
        (ANIMATION_NODE, "intensity"): float(params.intensity),
        (ANIMATION_NODE, "seed"): params.seed,
    }


PRESET: Final = Preset(
    name="liveportrait",
    title="Living photo",
    description="Send a photo of a face: get a 10-20 s video of it blinking and gently moving.",
    params_model=LivePortraitParams,
    template="liveportrait.json",
    bind=bind,
)
