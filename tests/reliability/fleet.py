"""Several bot processes on one Redis, each with its own connections, that can be killed like a SIGKILL would.

A killed instance loses its Redis connection first (its pool is pointed at a closed port), so nothing it does
afterwards reaches Redis: the queue's in-progress keys of the steps it was running stay until they expire
(STEP_TIMEOUT_S + 2 s), then the other instances take those steps over, exactly as after a crash of a real process.
An orderly stop follows PTB's real order (stop -> post_stop -> shutdown): running steps go back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

from redis.asyncio import Redis
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.ledger import Ledger
from bot.runpod_client import RunPodClient, RunPodSettings
from bot.services import KEY, Services
from bot.settings import BotSettings
from tests.bot import harness
from tests.bot.fake_telegram import BOT_ID, FakeTelegram
from tests.reliability.redis_process import free_port

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


class BotInstance:
    def __init__(self, name: str, settings: BotSettings, redis_url: str, runpod: RunPodSettings, tg: FakeTelegram):
        self.name = name
        self.settings = settings
        self.redis = Redis.from_url(redis_url)
        self.telegram = tg
        self.endpoint = RunPodClient(runpod)
        self.app: Application = build_application(  # type: ignore[type-arg]
            settings, Ledger(self.redis, settings.redis_prefix), self.endpoint, request=tg, owner=name
        )
        self.alive = False

    @property
    def services(self) -> Services:
        services: Services = self.app.bot_data[KEY]
        return services

    async def start(self) -> None:
        await harness.start(self.app)  # PTB's order: initialize -> post_init -> start
        self.alive = True

    async def stop(self) -> None:
        """SIGTERM: PTB's real order; the job queue stops in post_stop and hands its running steps back."""
        self.alive = False
        await asyncio.wait_for(harness.stop(self.app), 30)
        await self._close()

    async def kill(self) -> None:
        """A crash: cut Redis first, then drop every task without any cleanup reaching Redis."""
        self.alive = False
        pool = self.redis.connection_pool
        dead = free_port()  # nothing listens there
        pool.connection_kwargs["port"] = dead
        # Connections already made keep their own address and would reconnect to the live Redis: point them away.
        for conn in [*pool._available_connections, *pool._in_use_connections]:
            conn.port = dead  # type: ignore[attr-defined]
        await pool.disconnect()
        with contextlib.suppress(Exception):
            await self.services.lifecycle.stop(grace_s=0)  # no grace in a crash: its steps just vanish
        with contextlib.suppress(Exception):
            await asyncio.wait_for(harness.stop(self.app), 30)
        await self._close()

    async def _close(self) -> None:
        await self.endpoint.aclose()
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    # Updates as Telegram would deliver them --------------------------------------------------------------

    async def feed(self, data: dict[str, Any]) -> None:
        data = {"update_id": next(_update_ids)} | data
        await self.app.process_update(Update.de_json(data, self.app.bot))


def user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": f"U{uid}", "language_code": "en"}


def message(uid: int, **fields: Any) -> dict[str, Any]:
    base = {"message_id": next(_message_ids), "date": int(time.time()), "chat": {"id": uid, "type": "private"}}
    return {"message": base | {"from": user(uid)} | fields}


def command(uid: int, text: str) -> dict[str, Any]:
    length = len(text.split()[0])
    return message(uid, text=text, entities=[{"type": "bot_command", "offset": 0, "length": length}])


def text(uid: int, body: str) -> dict[str, Any]:
    return message(uid, text=body)


def tap(uid: int, data: str, message_id: int = 1) -> dict[str, Any]:
    msg = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": uid, "type": "private"},
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bot"},
        "text": "...",
    }
    query = {"id": str(next(_update_ids)), "from": user(uid), "chat_instance": str(uid), "data": data}
    return {"callback_query": query | {"message": msg}}


def paid(uid: int, payload: str, amount: int, charge_id: str) -> dict[str, Any]:
    payment = {
        "currency": "XTR",
        "total_amount": amount,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id,
        "provider_payment_charge_id": "",
    }
    return message(uid, successful_payment=payment)
