"""What the bot asks the endpoint to run: the only place that knows the presets' names and parameters."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, Final

from pydantic import ValidationError

from bot.inputs import is_blank
from bot.jobs import JobRecord, Kind
from workflows.liveportrait import DURATIONS
from workflows.liveportrait import PROMPT_MAX_CHARS as MOTION_PROMPT_MAX_CHARS
from workflows.sdxl import ASPECT_RATIOS, PROMPT_MAX_CHARS, SdxlParams

IMAGE_PRESET: Final = "sdxl"
VIDEO_PRESET: Final = "liveportrait"
OFFERED_ASPECTS: Final[tuple[str, ...]] = tuple(list(ASPECT_RATIOS)[:7])
VIDEO_DURATIONS: Final[tuple[int, ...]] = DURATIONS

PhotoDownloader = Callable[[str], Awaitable[bytes]]


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
    text = (caption or "").strip()
    if is_blank(text) or text.startswith("/"):
        return None
    return text[:MOTION_PROMPT_MAX_CHARS]


async def build_input(job: JobRecord, download_photo: PhotoDownloader) -> dict[str, Any]:
    """The endpoint ``input`` for a job (rebuilt on a retry, so the photo is fetched from Telegram again)."""
    req = job.request
    if req.kind is Kind.IMAGE:
        return {"preset": IMAGE_PRESET, "params": {"prompt": req.prompt, "aspect_ratio": req.aspect or "1:1"}}
    if not req.photo_file_id:
        raise ValueError("a video job needs a photo")
    photo = await download_photo(req.photo_file_id)
    params: dict[str, Any] = {"photo": base64.b64encode(photo).decode(), "duration": req.duration_s}
    if req.prompt:
        params["prompt"] = req.prompt
    return {"preset": VIDEO_PRESET, "params": params}
