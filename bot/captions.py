"""What ran, told with the result: the prompt, the effective seed/style/steps (or the video's length and
motion), and the worker's warnings ("ran 'calm' instead", "3 faces found; the largest was animated")."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any, Final

from bot.job_input import UPSCALE_PRESET, VARIATION_PRESET, preset_of
from bot.jobs import JobRequest, Kind
from bot.texts import CATALOG, t
from workflows.contract import JobOutput
from workflows.liveportrait import STYLES as MOTION_STYLES
from workflows.liveportrait import resolve_style

CAPTION_MAX: Final = 1024  # Telegram's caption limit
PROMPT_SHOWN: Final = 600


@cache
def style_names() -> dict[str, str]:
    """Style key -> display name, from workflows.styles when this build has it (features-worker's module)."""
    try:
        module = importlib.import_module("workflows.styles")
    except ImportError:
        return {}
    styles: dict[str, Any] = getattr(module, "STYLES", {})
    names = {}
    for key, style in styles.items():
        label = next((getattr(style, a) for a in ("title", "display_name", "label", "name") if hasattr(style, a)), key)
        names[key] = str(label)
    return names


def style_label(lang: str, key: str) -> str:
    """A style's name in the user's language (its English title when the catalog has no entry for it)."""
    return t(lang, f"style_{key}") if f"style_{key}" in CATALOG else style_names().get(key, key)


def _image_details(lang: str, request: JobRequest, params: dict[str, Any]) -> list[str]:
    details = []
    seed = params.get("seed", request.seed)
    if seed is not None:
        details.append(t(lang, "caption_seed", seed=seed))
    style = params.get("style", request.style)
    if style and style != "none":
        details.append(t(lang, "caption_style", style=style_label(lang, str(style))))
    steps, cfg = params.get("steps", request.steps), params.get("cfg", request.cfg)
    if steps is not None and cfg is not None:
        details.append(t(lang, "caption_steps", steps=steps, cfg=f"{cfg:g}" if isinstance(cfg, float) else cfg))
    return details


def caption(lang: str, request: JobRequest, output: JobOutput | None) -> str | None:
    params = (output.params if output else None) or {}
    lines: list[str] = []
    if request.kind is Kind.IMAGE:
        kind = {VARIATION_PRESET: "caption_kind_variation", UPSCALE_PRESET: "caption_kind_upscale"}
        label = kind.get(preset_of(request))
        if label:
            lines.append(t(lang, label))
        if request.prompt:
            lines.append(request.prompt[:PROMPT_SHOWN])
        details = _image_details(lang, request, params)
    else:
        duration = params.get("duration", request.duration_s)
        style = params.get("style") or resolve_style(params.get("prompt") or request.prompt)[0]
        shown = t(lang, f"motion_{style}") if style in MOTION_STYLES else str(style)
        details = [t(lang, "caption_video", duration=duration, style=shown)]
    if details:
        lines.append(" · ".join(details))
    lines += [t(lang, "caption_warning", warning=w) for w in (output.warnings if output else [])]
    text = "\n".join(lines)
    return text[: CAPTION_MAX - 1] + "…" if len(text) > CAPTION_MAX else (text or None)
