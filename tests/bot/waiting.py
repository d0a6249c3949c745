"""Waiting for a condition that other tasks bring about (bounded, so a broken test fails instead of hanging)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(condition: Callable[[], bool | Awaitable[bool]], timeout_s: float = 10.0) -> None:
    async def poll() -> None:
        while True:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout_s)
