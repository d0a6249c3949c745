"""The ``sdxl`` preset: SDXL base text-to-image (templates/sdxl.json), and what every SDXL preset shares.

``SamplingParams`` (prompts, style, seed, steps, cfg, sampler) and ``sampling_binding`` are reused by
``sdxl_variation`` and ``sdxl_upscale``, whose templates keep the same node ids for the prompts (6, 7) and KSampler (3).

Sizes come from SDXL's training buckets (about one megapixel, sides multiples of 64): the model was fine-tuned at
exactly these, so they give the best composition. Each ratio maps to the bucket closest to it:

| ratio | width x height | true ratio | megapixels |
|-------|----------------|------------|------------|
| 1:1   | 1024 x 1024    | 1.000      | 1.05       |
| 16:9  | 1344 x 768     | 1.750      | 1.03       |
| 9:16  | 768 x 1344     | 0.571      | 1.03       |
| 4:3   | 1152 x 896     | 1.286      | 1.03       |
| 3:4   | 896 x 1152     | 0.778      | 1.03       |
| 3:2   | 1216 x 832     | 1.462      | 1.01       |
| 2:3   | 832 x 1216     | 0.684      | 1.01       |
| 21:9  | 1536 x 640     | 2.400      | 0.98       |
| 9:21  | 640 x 1536     | 0.417      | 0.98       |
| 5:4   | 1088 x 896     | 1.214      | 0.97       |
| 4:5   | 896 x 1088     | 0.824      | 0.97       |
"""

from __future__ import annotations

import secrets
from typing import Any, Final, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from workflows.preset import Binding, NodeInput, Preset
from workflows.styles import DEFAULT_STYLE, STYLES, apply_style
from workflows.text import normalise


class Size(NamedTuple):
    width: int
    height: int


AspectRatio = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21", "5:4", "4:5"]

# Ordered as the bot should offer them (most used first).
ASPECT_RATIOS: Final[dict[str, Size]] = {
    "1:1": Size(1024, 1024),
    "16:9": Size(1344, 768),
    "9:16": Size(768, 1344),
    "4:3": Size(1152, 896),
    "3:4": Size(896, 1152),
    "3:2": Size(1216, 832),
    "2:3": Size(832, 1216),
    "21:9": Size(1536, 640),
    "9:21": Size(640, 1536),
    "5:4": Size(1088, 896),
    "4:5": Size(896, 1088),
}

# Samplers and schedulers offered to users: a subset of ComfyUI 0.3.75's KSampler lists that work with SDXL
# base at an ordinary step count (no LCM/turbo-only samplers, no adaptive ones that ignore ``steps``).
Sampler = Literal[
    "euler",
    "euler_ancestral",
    "heun",
    "dpm_2",
    "dpm_2_ancestral",
    "lms",
    "dpmpp_2s_ancestral",
    "dpmpp_sde",
    "dpmpp_2m",
    "dpmpp_2m_sde",
    "dpmpp_3m_sde",
    "ddim",
    "uni_pc",
]
Scheduler = Literal["normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform", "beta"]
SAMPLERS: Final[tuple[str, ...]] = get_args(Sampler)
SCHEDULERS: Final[tuple[str, ...]] = get_args(Scheduler)

PROMPT_MAX_CHARS: Final = 1000
# KSampler accepts any unsigned 64-bit seed; generated seeds stay below 2**53 so every JSON client reads them exactly.
SEED_MAX: Final = 2**64 - 1
DEFAULT_NEGATIVE: Final = "lowres, blurry, jpeg artifacts, watermark, text, signature, deformed, bad anatomy"
# Limits every SDXL preset shares (the bot offers choices within them).
STEPS_MIN: Final = 1
STEPS_MAX: Final = 60
STEPS_DEFAULT: Final = 25
CFG_MIN: Final = 1.0
CFG_MAX: Final = 15.0
CFG_DEFAULT: Final = 6.5

# Inputs the worker sets from its own configuration, never from user params.
CHECKPOINT_INPUT: Final[NodeInput] = ("4", "ckpt_name")


def random_seed() -> int:
    return secrets.randbelow(2**53)


def _clean_text(value: str) -> str:
    """The prompt in workflows.text's normal form ("" when nothing visible is left, so ``min_length`` refuses it);
    control characters are refused. The bot validates with this same model, so both always agree."""
    return normalise(value)


class SamplingParams(BaseModel):
    """What every SDXL preset samples with: the prompts, style, seed and sampler settings."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(min_length=1, max_length=PROMPT_MAX_CHARS, description="what the image shows")
    negative_prompt: str = Field(default=DEFAULT_NEGATIVE, max_length=PROMPT_MAX_CHARS)
    style: str = Field(default=DEFAULT_STYLE, description="a key of workflows.styles.STYLES")
    seed: int = Field(default_factory=random_seed, ge=0, le=SEED_MAX, description="random when absent or null")
    steps: int = Field(default=STEPS_DEFAULT, ge=STEPS_MIN, le=STEPS_MAX)
    cfg: float = Field(default=CFG_DEFAULT, ge=CFG_MIN, le=CFG_MAX)
    sampler: Sampler = "dpmpp_2m"
    scheduler: Scheduler = "karras"

    @field_validator("prompt", "negative_prompt", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _clean_text(value) if isinstance(value, str) else value

    @field_validator("style")
    @classmethod
    def _style(cls, value: str) -> str:
        if value not in STYLES:
            raise ValueError(f"unknown style {value[:40]!r} (known: {', '.join(STYLES)})")
        return value

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        # Clients send null for "not chosen": a random seed, the default negative prompt, no style.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    def styled_prompts(self) -> tuple[str, str]:
        """(positive, negative) text as the text encoders get it, the style applied."""
        return apply_style(self.style, self.prompt, self.negative_prompt)


def sampling_binding(params: SamplingParams) -> Binding:
    """The inputs every SDXL template shares (same node ids in each: 6/7 prompts, 3 KSampler)."""
    positive, negative = params.styled_prompts()
    return {
        ("6", "text"): positive,
        ("7", "text"): negative,
        ("3", "seed"): params.seed,
        ("3", "steps"): params.steps,
        ("3", "cfg"): params.cfg,
        ("3", "sampler_name"): params.sampler,
        ("3", "scheduler"): params.scheduler,
    }


class SdxlParams(SamplingParams):
    """Parameters of the ``sdxl`` preset. ``width``/``height`` are derived from ``aspect_ratio``."""

    aspect_ratio: AspectRatio = "1:1"
    batch_size: int = Field(default=1, ge=1, le=4)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {key: value for key, value in data.items() if value is not None}
        # Effective params carry width/height; accept them back when they agree with the aspect ratio.
        if "width" in data or "height" in data:
            size = ASPECT_RATIOS.get(str(data.get("aspect_ratio", "1:1")))
            given = (data.pop("width", None), data.pop("height", None))
            if size is not None and given != tuple(size):
                raise ValueError(f"width and height follow aspect_ratio (expected {size.width}x{size.height})")
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def width(self) -> int:
        return ASPECT_RATIOS[self.aspect_ratio].width

    @computed_field  # type: ignore[prop-decorator]
    @property
    def height(self) -> int:
        return ASPECT_RATIOS[self.aspect_ratio].height


def bind(params: SdxlParams) -> Binding:
    """Which template input each parameter sets (node ids are those of templates/sdxl.json)."""
    return {
        **sampling_binding(params),
        ("5", "width"): params.width,
        ("5", "height"): params.height,
        ("5", "batch_size"): params.batch_size,
    }


class ImageToImageParams(SamplingParams):
    """Sampling over a given image (variation, upscale). The result's size follows the image, so there is no size
    parameter; ``width``/``height`` in echoed effective params are accepted and ignored."""

    # The image is not echoed back in the job's effective params (it can be megabytes of base64).
    image: str = Field(min_length=1, exclude=True, repr=False, description="base64, data: URL or https URL")
    prompt: str = Field(default="", max_length=PROMPT_MAX_CHARS, description="what the image shows (optional)")

    @model_validator(mode="before")
    @classmethod
    def _size_follows_the_image(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("width" in data or "height" in data):
            data = {key: value for key, value in data.items() if key not in ("width", "height")}
        return data


PRESET: Final = Preset(
    name="sdxl",
    title="SDXL image",
    description="Text to image with Stable Diffusion XL: describe the picture, pick an aspect ratio and a style.",
    params_model=SdxlParams,
    template="sdxl.json",
    bind=bind,
)
