"""A generation job as the bot keeps it in Redis (``job:{id}`` hash)."""

from __future__ import annotations

import json
import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from bot.stages import Stage


class Kind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class JobRequest(BaseModel):
    """What the user asked for; enough to build (and rebuild, on a retry) the endpoint input."""

    kind: Kind
    prompt: str | None = None
    aspect: str | None = None
    duration_s: int | None = None
    photo_file_id: str | None = None
    # Images (issue 12): the preset (None: by kind), the user's settings, a pinned seed, and for a variation or an
    # upscale the result it starts from (its stored output, else the file Telegram keeps).
    preset: str | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    style: str | None = None
    steps: int | None = None
    cfg: float | None = None
    source_job: str | None = None
    source_file_id: str | None = None


class JobRecord(BaseModel):
    id: str
    uid: int
    chat_id: int
    cost: int
    state: str
    deadline: int  # ms since epoch
    created: int = 0
    attempts: int = 0
    runpod_id: str = ""
    stage: Stage = Stage.RESERVED  # where the job is on its way (bot/stages.py)
    status_msg: int = 0  # the one status message of this job
    status_photo: bool = False  # the status message became a live preview (a photo: its caption is edited)
    lang: str = "en"
    cancel: bool = False
    cancel_reason: str = ""  # why it was cancelled, when not by its user (an error code: BLOCKED, ...)
    request: JobRequest
    code: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> JobRecord:
        data: dict[str, Any] = dict(raw)
        data["request"] = json.loads(raw.get("request", "{}"))
        data["cancel"] = raw.get("cancel") == "1"
        if raw.get("state") in (Stage.CHARGED, Stage.REFUNDED):  # settled by the ledger's finalize
            data["stage"] = raw["state"]
        return cls.model_validate(data)

    @property
    def is_open(self) -> bool:
        return self.state in ("reserved", "running")


def new_job_id() -> str:
    return uuid.uuid4().hex[:16]


def request_fields(request: JobRequest, chat_id: int, lang: str) -> dict[str, str]:
    """The fields reserve() stores with a new job."""
    return {"chat_id": str(chat_id), "lang": lang, "kind": request.kind.value, "request": request.model_dump_json()}
