"""Delivered results, kept for /history and the buttons under them: what was asked, what ran, and the file id
Telegram gave the sent file (so sending it again costs no GPU work and no upload)."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from bot.jobs import JobRequest
from bot.keys import Keys
from bot.ledger import now_ms

HISTORY_SIZE: Final = 20


class ResultRecord(BaseModel):
    job_id: str
    uid: int
    request: JobRequest
    media: str  # photo | document | video | link
    file_id: str | None = None
    url: str | None = None  # a video too large for Telegram: its (expiring) download link
    params: dict[str, Any] = Field(default_factory=dict)  # the worker's effective params (seed ...)
    warnings: list[str] = Field(default_factory=list)
    ts_ms: int = Field(default_factory=now_ms)

    @property
    def seed(self) -> int | None:
        seed = self.params.get("seed", self.request.seed)
        return seed if isinstance(seed, int) else None


class ResultStore:
    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s

    def _record(self, job_id: str) -> str:
        return Keys(self.prefix).res(job_id)

    def _history(self, uid: int) -> str:
        return Keys(self.prefix).hist(uid)

    async def add(self, record: ResultRecord) -> None:
        history = self._history(record.uid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._record(record.job_id), record.model_dump_json(), ex=self.ttl_s)
            pipe.lrem(history, 0, record.job_id)  # a redelivery after a crash is one entry, not two
            pipe.lpush(history, record.job_id)
            pipe.ltrim(history, 0, HISTORY_SIZE - 1)
            pipe.expire(history, self.ttl_s)
            await pipe.execute()

    async def get(self, job_id: str, uid: int) -> ResultRecord | None:
        """A result, only for the user it was made for."""
        raw = await self.redis.get(self._record(job_id)) if job_id else None
        record = ResultRecord.model_validate_json(raw) if raw else None
        return record if record is not None and record.uid == uid else None

    async def recent(self, uid: int) -> list[ResultRecord]:
        """The user's last results, newest first (those past their time are gone)."""
        ids = [
            i.decode() if isinstance(i, bytes) else str(i) for i in await self.redis.lrange(self._history(uid), 0, -1)
        ]
        records = [await self.get(job_id, uid) for job_id in ids]
        return [r for r in records if r is not None]
