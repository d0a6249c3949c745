"""What the bot asks the endpoint to run: the only place that knows the presets' names and parameters."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, Final

from pydantic import ValidationError

from bot.jobs import JobRecord, JobRequest, Kind
from bot.settings import BotSettings
from workflows.contract import JobOutput, OutputKind
from workflows.liveportrait import DURATIONS
from workflows.liveportrait import PROMPT_MAX_CHARS as MOTION_PROMPT_MAX_CHARS
from workflows.presets import get_preset
from workflows.sdxl import ASPECT_RATIOS, PROMPT_MAX_CHARS, SdxlParams
from workflows.text import normalise, without_controls

IMAGE_PRESET: Final = "sdxl"
VARIATION_PRESET: Final = "sdxl_variation"
UPSCALE_PRESET: Final = "sdxl_upscale"
VIDEO_PRESET: Final = "liveportrait"
IMAGE_PRESETS: Final = (IMAGE_PRESET, VARIATION_PRESET, UPSCALE_PRESET)
OFFERED_ASPECTS: Final[tuple[str, ...]] = tuple(list(ASPECT_RATIOS)[:7])
VIDEO_DURATIONS: Final[tuple[int, ...]] = DURATIONS

PhotoDownloader = Callable[[str], Awaitable[bytes]]
ResultLoader = Callable[[str], Awaitable[JobOutput | None]]


def clean_prompt(text: str) -> str | None:
    """The prompt as the sdxl preset accepts it, or None when it would be refused."""
    try:
        return SdxlParams(prompt=text).prompt
    except ValidationError:
        return None


def prompt_limit() -> int:
    return PROMPT_MAX_CHARS


def motion_prompt(caption: str | None) -> str | None:
    """A photo's caption as the motion style ("smiling", "nods"), unless it is a command."""
    text = normalise(without_controls(caption or ""))  # the preset's own normal form: never refused by it
    if not text or text.startswith("/"):
        return None
    return text[:MOTION_PROMPT_MAX_CHARS].strip() or None


def offered(preset: str) -> bool:
    """Whether the endpoint's catalogue has this preset (variations and upscales arrive with features-worker)."""
    return get_preset(preset) is not None


def preset_of(request: JobRequest) -> str:
    return request.preset or (IMAGE_PRESET if request.kind is Kind.IMAGE else VIDEO_PRESET)


def cost_of(settings: BotSettings, request: JobRequest) -> int:
    """Each preset has its own price (a re-roll or a pinned seed is an ordinary sdxl image)."""
    preset = preset_of(request)
    if preset == VARIATION_PRESET:
        return settings.variation_cost
    if preset == UPSCALE_PRESET:
        return settings.upscale_cost
    if preset == VIDEO_PRESET:
        return settings.video_cost(request.duration_s or VIDEO_DURATIONS[0])
    return settings.image_cost


def image_params(req: JobRequest) -> dict[str, Any]:
    """The sdxl family's params: only what the user chose, so the preset's defaults apply to the rest."""
    params: dict[str, Any] = {"prompt": req.prompt}
    if preset_of(req) == IMAGE_PRESET:
        params["aspect_ratio"] = req.aspect or "1:1"  # a variation or upscale keeps its source's shape
    chosen = {
        "seed": req.seed,
        "negative_prompt": req.negative_prompt,
        "style": req.style,
        "steps": req.steps,
        "cfg": req.cfg,
    }
    return params | {key: value for key, value in chosen.items() if value is not None}


async def source_image(req: JobRequest, download: PhotoDownloader, load_result: ResultLoader | None) -> str:
    """The image a variation or upscale starts from: the original output (its URL, or its base64) while it is
    kept, else the file Telegram keeps of the delivered result."""
    output = await load_result(req.source_job) if load_result and req.source_job else None
    item = next((i for i in output.outputs if i.kind == OutputKind.IMAGE), None) if output else None
    if item is not None and (item.url or item.data):
        return item.url or item.data or ""
    if not req.source_file_id:
        raise ValueError("the source result is no longer available")
    return base64.b64encode(await download(req.source_file_id)).decode()


async def build_input(
    job: JobRecord, download_photo: PhotoDownloader, load_result: ResultLoader | None = None
) -> dict[str, Any]:
    """The endpoint ``input`` for a job (rebuilt on a retry, so the photo is fetched from Telegram again)."""
    req = job.request
    preset = preset_of(req)
    if req.kind is Kind.IMAGE:
        params = image_params(req)
        if preset != IMAGE_PRESET:
            params["image"] = await source_image(req, download_photo, load_result)
        return {"preset": preset, "params": params}
    if not req.photo_file_id:
        raise ValueError("a video job needs a photo")
    photo = await download_photo(req.photo_file_id)
    params = {"photo": base64.b64encode(photo).decode(), "duration": req.duration_s}
    if req.prompt:
        params["prompt"] = req.prompt
    return {"preset": VIDEO_PRESET, "params": params}
