"""Requests kept for later instead of thrown away: one waiting for credits (continued with one tap after
buying), and a few queued behind the user's running job (started when it settles)."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel
from redis.asyncio import Redis

from bot.jobs import JobRequest
from bot.keys import Keys

PENDING_TTL_S: Final = 24 * 3600
QUEUE_TTL_S: Final = 24 * 3600


class KeptRequest(BaseModel):
    job_id: str  # the job id it will run under (a second tap on Continue cannot run it twice)
    uid: int
    chat_id: int
    lang: str
    request: JobRequest
    cost: int
    status_msg: int  # the message that tells the user about it (becomes the job's status message)


class KeptRequests:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _pending(self, uid: int) -> str:
        return Keys(self.prefix).pending(uid)

    def _queue(self, uid: int) -> str:
        return Keys(self.prefix).uqueue(uid)

    # Waiting for credits (the latest one only: the one the user just asked for)

    async def keep_pending(self, kept: KeptRequest) -> None:
        await self.redis.set(self._pending(kept.uid), kept.model_dump_json(), ex=PENDING_TTL_S)

    async def pending(self, uid: int) -> KeptRequest | None:
        raw = await self.redis.get(self._pending(uid))
        return KeptRequest.model_validate_json(raw) if raw else None

    async def drop_pending(self, uid: int, job_id: str) -> None:
        kept = await self.pending(uid)
        if kept is not None and kept.job_id == job_id:
            await self.redis.delete(self._pending(uid))

    # Queued behind a running job

    async def enqueue(self, kept: KeptRequest, limit: int) -> int:
        """The request's place in the user's queue (1-based), or 0 when the queue is full."""
        key = self._queue(kept.uid)
        length = int(await self.redis.rpush(key, kept.model_dump_json()))
        if length > limit:
            await self.redis.rpop(key)  # pushes are atomic, so the one over the limit is always the last
            return 0
        await self.redis.expire(key, QUEUE_TTL_S)
        return length

    async def next(self, uid: int) -> KeptRequest | None:
        raw = await self.redis.lpop(self._queue(uid))
        return KeptRequest.model_validate_json(raw) if isinstance(raw, (bytes, str)) else None

    async def queued(self, uid: int) -> list[KeptRequest]:
        return [KeptRequest.model_validate_json(raw) for raw in await self.redis.lrange(self._queue(uid), 0, -1)]

    async def remove(self, uid: int, job_id: str) -> KeptRequest | None:
        for kept in await self.queued(uid):
            if kept.job_id == job_id and await self.redis.lrem(self._queue(uid), 1, kept.model_dump_json()):
                return kept
        return None

    async def clear(self, uid: int) -> list[KeptRequest]:
        items = await self.queued(uid)
        await self.redis.delete(self._queue(uid))
        return items
