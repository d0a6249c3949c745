"""Telegram's rate limits, per chat: a flood wait (429 ``retry_after``) holds back only the chat it came for.

PTB's ``AIORateLimiter`` keeps its throttling (30 messages/s overall, 20/min per group) but on a RetryAfter it
halts *every* request of the bot for the wait (one global event): one chat waiting out 12 s delayed another
user's pre-checkout answer past Telegram's 10 s. Here the wait is remembered per ``chat_id`` (requests without
one, e.g. answerPreCheckoutQuery or answerCallbackQuery, share their own key), and only requests for that key
sleep it out, inside the handler or task that made them.

Also the one place every request to a chat passes: sends to a user who blocked the bot are not made at all
(they fail at once as Telegram would refuse them), and Telegram's own "blocked by the user" is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.error import Forbidden, RetryAfter
from telegram.ext import AIORateLimiter

log = logging.getLogger("bot.flood")

# Telegram's 403 descriptions that mean the user is gone until they unblock the bot.
BLOCKED_MARKERS = ("blocked by the user", "user is deactivated")
NOT_SENT = "Forbidden: bot was blocked by the user (not sent)"
Check = Callable[[int], Awaitable[bool]]
Report = Callable[[int], Awaitable[None]]


def user_chat(data: dict[str, Any]) -> int | None:
    """The user a request is for: a private chat's id is the user's id (groups and channels are negative)."""
    with contextlib.suppress(TypeError, ValueError):
        chat_id = int(data.get("chat_id"))  # type: ignore[arg-type]
        return chat_id if chat_id > 0 else None
    return None


class ChatRateLimiter(AIORateLimiter):
    def __init__(self, *, max_retries: int, is_blocked: Check | None = None) -> None:
        super().__init__(max_retries=max_retries)
        self.is_blocked = is_blocked
        self.on_blocked: Report | None = None  # set once the services exist
        self._until: dict[object, float] = {}  # chat key -> loop time its flood wait ends

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        user = user_chat(data)
        if user is not None and await self._blocked_user(user):
            raise Forbidden(NOT_SENT)
        chat_id: Any = data.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        key = chat_id
        # As the parent: groups and channels (negative ids, @usernames) also get their per-group limiter.
        group: int | str | bool = (
            chat_id if isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0) else False
        )
        max_retries = rate_limit_args or self._max_retries
        for attempt in range(max_retries + 1):
            await self._wait(key)
            try:
                # The parent's throttling; its global flood event is never cleared here, so it never blocks.
                return await self._run_request(
                    chat=chat_id is not None,
                    group=group,
                    allow_paid_broadcast=bool(data.get("allow_paid_broadcast", False)),
                    callback=callback,
                    args=args,
                    kwargs=kwargs,
                )
            except RetryAfter as exc:
                if attempt == max_retries:
                    raise
                wait = _seconds(exc) + 0.1
                loop_now = asyncio.get_running_loop().time()
                if len(self._until) > 1024:  # forget waits long over
                    self._until = {k: t for k, t in self._until.items() if t > loop_now}
                self._until[key] = max(self._until.get(key, 0.0), loop_now + wait)
                log.info("flood wait for one chat", extra={"endpoint": endpoint, "chat_id": key, "wait_s": wait})
            except Forbidden as exc:
                if user is not None and self.on_blocked is not None and _blocked(exc):
                    try:
                        await self.on_blocked(user)
                    except Exception:  # the 403 itself still reaches the caller
                        log.exception("could not record a blocked user", extra={"uid": user})
                raise
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _blocked_user(self, user: int) -> bool:
        if self.is_blocked is None:
            return False
        try:
            return await self.is_blocked(user)
        except Exception:  # Redis unreachable: send anyway (Telegram refuses it if the user did block us)
            log.warning("blocked-user check failed; sending anyway", exc_info=True, extra={"uid": user})
            return False

    async def _wait(self, key: object) -> None:
        until = self._until.get(key)
        if until is None:
            return
        delay = until - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif self._until.get(key) == until:
            del self._until[key]


def _seconds(exc: RetryAfter) -> float:
    value: Any = exc._retry_after  # the raw value: the public one warns about its coming type change
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


def _blocked(exc: Forbidden) -> bool:
    return any(marker in exc.message.lower() for marker in BLOCKED_MARKERS)
