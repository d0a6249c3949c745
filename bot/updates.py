"""Updates handled concurrently where state allows: every user's updates in the order they came, different
users' at the same time (their state lives in Redis, every money step is one atomic script).

PTB's ``concurrent_updates(True)`` alone would also reorder one user's messages (a prompt overtaking its
/imagine); one at a time (PTB's default) let one slow chat delay everyone's pre-checkout answers past Telegram's
10 s. A pre-checkout query never waits, not even for its own user's earlier updates: it only reads.

Each update gets a trace id, on every log line written while it is handled (and in the error handler's notices).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

import structlog
from telegram import Update
from telegram.ext import BaseUpdateProcessor

MAX_CONCURRENT = 256


class PerUserUpdates(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # uid -> (lock, updates holding or waiting)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        with structlog.contextvars.bound_contextvars(trace_id=new_trace_id()):
            await self._in_order(update, coroutine)

    async def _in_order(self, update: object, coroutine: Awaitable[Any]) -> None:
        uid = _user(update)
        if uid is None:
            await coroutine
            return
        lock, users = self._locks.get(uid, (asyncio.Lock(), 0))
        self._locks[uid] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[uid]
            if users <= 1:
                del self._locks[uid]
            else:
                self._locks[uid] = (lock, users - 1)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def _user(update: object) -> int | None:
    if not isinstance(update, Update) or update.pre_checkout_query is not None:
        return None
    user = update.effective_user
    return user.id if user is not None else None


def new_trace_id() -> str:
    return uuid.uuid4().hex[:12]


def current_trace_id() -> str:
    """The trace id of the update being handled (a new one outside of any)."""
    bound = structlog.contextvars.get_contextvars().get("trace_id")
    return str(bound) if bound else new_trace_id()
