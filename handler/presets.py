"""Named presets (``preset`` + ``params`` in the job input) turned into a ComfyUI graph.

Placeholder until the presets land: every preset name is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handler.errors import ErrorCode, JobError
from handler.files import JobFiles
from handler.settings import WorkerSettings


@dataclass
class PreparedJob:
    """A graph ready for the engine, plus what the response reports about it."""

    prompt: dict[str, Any]
    preset: str | None = None
    params: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


def prepare_preset(name: str, params: dict[str, Any], files: JobFiles, settings: WorkerSettings) -> PreparedJob:
    raise JobError(ErrorCode.INVALID_INPUT, f"Unknown preset '{name}'.", field="preset")
