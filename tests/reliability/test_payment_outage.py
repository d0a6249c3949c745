"""A successful payment that arrives while Redis is down is credited once Redis is back, exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from tests.bot.harness import running_bot
from tests.reliability.redis_process import RedisProcess

U = 4242


async def test_payment_during_a_redis_outage_is_credited_after_it(tmp_path: Path, runpod_settings: Any) -> None:
    server = RedisProcess(tmp_path)
    server.start()
    redis = Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=2)
    try:
        async with running_bot(redis, runpod_settings, payment_retry_s=60) as bot:
            await bot.users.send(U, "/buy")
            await bot.users.tap(U, "buy:s")
            payload = str(bot.telegram.sent("sendInvoice", chat_id=U)[-1].get("payload"))
            before = await bot.ledger.balance(U)
            server.stop()
            paying = asyncio.create_task(bot.users.paid(U, payload, 50, "charge-outage"))
            await asyncio.sleep(1.5)
            assert not paying.done(), "the credit waits for Redis instead of failing"
            server.start()  # AOF: everything written before the outage is back
            await asyncio.wait_for(paying, timeout=60)
            await bot.users.paid(U, payload, 50, "charge-outage")  # and a later duplicate changes nothing
            assert await bot.ledger.balance(U) == before + 10
            assert any(text.startswith("Thank you") for text in bot.telegram.texts(U))
    finally:
        await redis.aclose()
        server.stop()
