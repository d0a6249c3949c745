"""The ``sdxl`` preset: SDXL base text-to-image (templates/sdxl.json).

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
import unicodedata
from typing import Any, Final, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from workflows.preset import Binding, NodeInput, Preset


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

# Inputs the worker sets from its own configuration, never from user params.
CHECKPOINT_INPUT: Final[NodeInput] = ("4", "ckpt_name")


def random_seed() -> int:
    return secrets.randbelow(2**53)


def _clean_text(value: str) -> str:
    """Strip, and refuse control characters (newline and tab are ordinary prompt whitespace)."""
    value = value.strip()
    for char in value:
        if unicodedata.category(char) == "Cc" and char not in "\n\t":
            raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
    return value


class SdxlParams(BaseModel):
    """Parameters of the ``sdxl`` preset. ``width``/``height`` are derived from ``aspect_ratio``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(min_length=1, max_length=PROMPT_MAX_CHARS, description="what the image shows")
    negative_prompt: str = Field(default=DEFAULT_NEGATIVE, max_length=PROMPT_MAX_CHARS)
    aspect_ratio: AspectRatio = "1:1"
    seed: int = Field(default_factory=random_seed, ge=0, le=SEED_MAX, description="random when absent or null")
    steps: int = Field(default=25, ge=1, le=60)
    cfg: float = Field(default=6.5, ge=1.0, le=15.0)
    sampler: Sampler = "dpmpp_2m"
    scheduler: Scheduler = "karras"
    batch_size: int = Field(default=1, ge=1, le=4)

    @field_validator("prompt", "negative_prompt", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _clean_text(value) if isinstance(value, str) else value

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: Any) -> Any:
        return random_seed() if value is None else value

    @model_validator(mode="before")
    @classmethod
    def _accept_echoed_size(cls, data: Any) -> Any:
        """Effective params carry width/height; accept them back when they agree with the aspect ratio."""
        if not isinstance(data, dict) or ("width" not in data and "height" not in data):
            return data
        data = dict(data)
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
        ("6", "text"): params.prompt,
        ("7", "text"): params.negative_prompt,
        ("5", "width"): params.width,
        ("5", "height"): params.height,
        ("5", "batch_size"): params.batch_size,
        ("3", "seed"): params.seed,
        ("3", "steps"): params.steps,
        ("3", "cfg"): params.cfg,
        ("3", "sampler_name"): params.sampler,
        ("3", "scheduler"): params.scheduler,
    }


PRESET: Final = Preset(
    name="sdxl",
    title="SDXL image",
    description="Text to image with Stable Diffusion XL: describe the picture, pick an aspect ratio.",
    params_model=SdxlParams,
    template="sdxl.json",
    bind=bind,
)
