"""Admin broadcasts: rate-limited, resumable after a restart (the cursor lives in Redis), with a final report."""

from __future__ import annotations

import asyncio
import logging
import uuid

from telegram import Bot
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot.ledger import Ledger, to_str

log = logging.getLogger("bot.broadcast")


class Broadcaster:
    def __init__(self, bot: Bot, ledger: Ledger, rate_per_s: float, owner: str) -> None:
        self.bot = bot
        self.ledger = ledger
        self.rate_per_s = rate_per_s
        self.owner = owner
        self._running_key = ledger.keys.broadcasts
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def start(self, admin_chat: int, text: str) -> str:
        bid = uuid.uuid4().hex[:10]
        key = self.ledger.keys.broadcast(bid)
        total = await self.ledger.user_count()
        mapping = {"text": text, "admin": admin_chat, "cursor": 0, "delivered": 0, "failed": 0, "total": total}
        await self.ledger.redis.hset(key, mapping=mapping)  # type: ignore[arg-type]
        await self.ledger.redis.sadd(self._running_key, bid)
        await self._spawn(bid)
        return bid

    async def resume(self) -> None:
        """Continue every broadcast a stopped process left unfinished."""
        for raw in await self.ledger.redis.smembers(self._running_key):
            await self._spawn(to_str(raw))

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _spawn(self, bid: str) -> None:
        if bid in self._tasks or not await self.ledger.lease(f"bc:{bid}", self.owner, 60):
            return
        self._tasks[bid] = asyncio.create_task(self._run(bid), name=f"broadcast-{bid}")

    async def _run(self, bid: str) -> None:
        key = self.ledger.keys.broadcast(bid)
        redis = self.ledger.redis
        try:
            state = {to_str(k): to_str(v) for k, v in (await redis.hgetall(key)).items()}
            cursor = int(state["cursor"])
            while True:
                batch = await redis.zrange(self.ledger.keys.users, cursor, cursor + 99)
                if not batch:
                    break
                for raw_uid in batch:
                    cursor += 1
                    # A stop between sending and moving the cursor would send twice after a restart: the step
                    # in flight is finished before the stop goes on (and the lease is let go).
                    step = asyncio.ensure_future(self._step(key, int(to_str(raw_uid)), state["text"], cursor))
                    try:
                        await asyncio.shield(step)
                    except asyncio.CancelledError:
                        await step
                        raise
                    await self.ledger.lease(f"bc:{bid}", self.owner, 60, "renew")
                    await asyncio.sleep(1 / self.rate_per_s)
            await redis.srem(self._running_key, bid)
            final = {to_str(k): to_str(v) for k, v in (await redis.hgetall(key)).items()}
            report = f"Broadcast {bid} finished: delivered {final['delivered']}, failed {final['failed']}."
            await self.bot.send_message(int(final["admin"]), report)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("broadcast failed", extra={"broadcast": bid})
        finally:
            self._tasks.pop(bid, None)
            await self.ledger.lease(f"bc:{bid}", self.owner, 60, "release")

    async def _step(self, key: str, uid: int, text: str, cursor: int) -> None:
        field = "delivered" if await self._send(uid, text) else "failed"
        await self.ledger.redis.hincrby(key, field, 1)
        await self.ledger.redis.hset(key, "cursor", cursor)

    async def _send(self, uid: int, text: str) -> bool:
        for _ in range(3):
            try:
                await self.bot.send_message(uid, text)
                return True
            except RetryAfter as exc:
                delay = exc.retry_after
                await asyncio.sleep(delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay))
            except Forbidden:
                return False  # blocked the bot
            except TelegramError as exc:
                log.info("broadcast to %s failed: %s", uid, exc)
                return False
        return False
