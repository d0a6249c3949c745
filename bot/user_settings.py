"""Per-user image settings (/settings): negative prompt, style, steps and CFG within the sdxl preset's limits."""

from __future__ import annotations

from typing import Final

from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from bot.jobs import JobRequest
from bot.keys import Keys
from workflows.sdxl import SdxlParams

STEP_CHOICES: Final = (15, 20, 25, 30, 40)
CFG_CHOICES: Final = (3.5, 5.0, 6.5, 8.0, 10.0)


def limits(field: str) -> tuple[float, float]:
    """The preset's own bounds for a parameter (its pydantic ge/le)."""
    low, high = float("-inf"), float("inf")
    for meta in SdxlParams.model_fields[field].metadata:
        if isinstance(meta, Ge):
            low = float(meta.ge)  # type: ignore[arg-type]
        if isinstance(meta, Le):
            high = float(meta.le)  # type: ignore[arg-type]
    return low, high


def default(field: str) -> object:
    return SdxlParams.model_fields[field].default


def within(field: str, value: float) -> bool:
    low, high = limits(field)
    return low <= value <= high


def steps_choices() -> list[int]:
    return [n for n in STEP_CHOICES if within("steps", n)]


def cfg_choices() -> list[float]:
    return [c for c in CFG_CHOICES if within("cfg", c)]


def valid_negative(text: str) -> str | None:
    """The negative prompt as the preset accepts it, or None."""
    try:
        return SdxlParams(prompt="x", negative_prompt=text).negative_prompt
    except ValidationError:
        return None


class UserSettings(BaseModel):
    negative_prompt: str | None = None
    style: str | None = None
    steps: int | None = None
    cfg: float | None = None

    def apply(self, request: JobRequest) -> JobRequest:
        return request.model_copy(update=self.model_dump())


class UserSettingsStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, uid: int) -> str:
        return Keys(self.prefix).usettings(uid)

    async def get(self, uid: int) -> UserSettings:
        raw = await self.redis.get(self._key(uid))
        return UserSettings.model_validate_json(raw) if raw else UserSettings()

    async def save(self, uid: int, settings: UserSettings) -> None:
        await self.redis.set(self._key(uid), settings.model_dump_json())
