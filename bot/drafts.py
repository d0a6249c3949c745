"""Wizard state in Redis: a request being put together (prompt, photo) and what the user's next message means.

A draft's id becomes the job's id, so a button tapped twice reserves once.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.jobs import JobRequest, new_job_id
from bot.keys import Keys
from bot.ledger import to_str

DRAFT_TTL_S = 3600
AWAIT_TTL_S = 900


class Drafts:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keys = Keys(prefix)

    def _draft(self, draft_id: str) -> str:
        return self.keys.draft(draft_id)

    def _awaiting(self, uid: int) -> str:
        return self.keys.awaiting(uid)

    async def create(self, uid: int, request: JobRequest) -> str:
        draft_id = new_job_id()
        await self.redis.hset(self._draft(draft_id), mapping={"uid": uid, "request": request.model_dump_json()})
        await self.redis.expire(self._draft(draft_id), DRAFT_TTL_S)
        return draft_id

    async def update(self, draft_id: str, uid: int, request: JobRequest) -> bool:
        """Change a draft still open (a motion style picked); False when it expired or is someone else's."""
        if await self.get(draft_id, uid) is None:
            return False
        await self.redis.hset(self._draft(draft_id), "request", request.model_dump_json())
        return True

    async def get(self, draft_id: str, uid: int) -> JobRequest | None:
        """The draft, only for the user who made it."""
        raw = await self.redis.hgetall(self._draft(draft_id))
        if not raw or int(raw[b"uid"]) != uid:
            return None
        return JobRequest.model_validate_json(raw[b"request"])

    async def expect(self, uid: int, intent: str) -> None:
        await self.redis.set(self._awaiting(uid), intent, ex=AWAIT_TTL_S)

    async def expected(self, uid: int) -> str | None:
        value = await self.redis.get(self._awaiting(uid))
        return to_str(value) if value else None

    def _template(self, uid: int) -> str:
        return self.keys.template(uid)

    async def set_template(self, uid: int, request: JobRequest) -> None:
        """The settings (and pinned seed) the user's next prompt is drawn with ("use this seed")."""
        await self.redis.set(self._template(uid), request.model_dump_json(), ex=AWAIT_TTL_S)

    async def take_template(self, uid: int) -> JobRequest | None:
        raw = await self.redis.getdel(self._template(uid))
        return JobRequest.model_validate_json(raw) if raw else None

    async def clear(self, uid: int) -> None:
        await self.redis.delete(self._awaiting(uid))
