"""Style presets for the SDXL presets: prompt templates the user picks by name instead of typing them.

A style wraps the user's prompt (``{prompt}`` marks where it goes) and adds words to the negative prompt. The bot
shows ``title``; jobs carry the key. Nothing here imports ComfyUI or the worker: the bot uses this module too.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict

DEFAULT_STYLE: Final = "none"


class Style(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str  # display name (English; the bot may translate by key)
    prompt: str  # template; "{prompt}" is replaced by the user's prompt
    negative: str = ""  # appended to the user's negative prompt


# Ordered as the bot should offer them.
STYLES: Final[dict[str, Style]] = {
    "none": Style(title="No style", prompt="{prompt}"),
    "photo": Style(
        title="Photo",
        prompt="photograph of {prompt}, 50mm lens, natural light, sharp focus, highly detailed",
        negative="painting, drawing, illustration, cartoon, anime, 3d render, cgi",
    ),
    "cinematic": Style(
        title="Cinematic",
        prompt="cinematic film still of {prompt}, shallow depth of field, dramatic lighting, film grain, moody",
        negative="cartoon, anime, drawing, flat lighting, oversaturated",
    ),
    "anime": Style(
        title="Anime",
        prompt="anime artwork of {prompt}, anime style, key visual, vibrant colors, studio quality",
        negative="photo, photorealistic, realism, 3d render",
    ),
    "painting": Style(
        title="Oil painting",
        prompt="oil painting of {prompt}, visible brush strokes, rich colors, fine art, masterpiece",
        negative="photo, photorealistic, 3d render, anime",
    ),
    "3d": Style(
        title="3D render",
        prompt="3d render of {prompt}, octane render, soft global illumination, highly detailed, clay materials",
        negative="photo, painting, drawing, anime, flat",
    ),
}


def apply_style(name: str | None, prompt: str, negative: str) -> tuple[str, str]:
    """(prompt, negative) with style ``name`` applied; KeyError for a name that is not in STYLES."""
    style = STYLES[name or DEFAULT_STYLE]
    styled = style.prompt.replace("{prompt}", prompt)
    negatives = [part for part in (negative.strip(), style.negative) if part]
    return styled, ", ".join(negatives)
