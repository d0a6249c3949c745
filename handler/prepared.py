"""What every job preparation (raw workflow or preset) hands the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PreparedJob:
    """A graph ready for the engine, plus what the response reports about it."""

    prompt: dict[str, Any]
    preset: str | None = None
    params: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
