"""The real Application wired to a fake Telegram (request layer), a real Redis and an endpoint over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from telegram.ext import Application

from bot.app import InputBuilder, build_application
from bot.ledger import Ledger
from bot.runpod_client import RunPodClient, RunPodSettings
from bot.services import Services, svc
from bot.settings import BotSettings
from tests.bot.fake_telegram import FakeTelegram, Users
from tests.bot.waiting import eventually

ADMIN = 42
TOKEN = "123456:TEST-token"


def bot_settings(**overrides: Any) -> BotSettings:
    base: dict[str, Any] = dict(
        telegram_bot_token=TOKEN,
        redis_prefix="t:",
        admin_ids=[ADMIN],
        free_credits=3,
        referral_bonus=2,
        image_cost=1,
        poll_min_s=0.01,
        poll_max_s=0.03,
        poll_webhook_s=1,
        queue_poll_s=0.01,
        sweep_interval_s=1,
        step_timeout_s=5,
        stop_grace_s=0,
        status_edit_interval_s=0,
        broadcast_rate_per_s=1000,
    )
    return BotSettings(**(base | overrides))


class Bot:
    def __init__(self, app: Application, telegram: FakeTelegram) -> None:  # type: ignore[type-arg]
        self.app = app
        self.telegram = telegram
        self.users = Users(app, telegram)

    @property
    def services(self) -> Services:
        return svc(self)

    @property
    def application(self) -> Application:  # type: ignore[type-arg]
        return self.app  # lets svc(self) read bot_data like a handler context

    @property
    def ledger(self) -> Ledger:
        return self.services.ledger

    async def settle(self, timeout_s: float = 15) -> None:
        """Wait until no job is open any more."""

        async def none_open() -> bool:
            return not await self.ledger.open_jobs()

        await eventually(none_open, timeout_s)
        await self.services.lifecycle.wait_idle()


@asynccontextmanager
async def running_bot(
    redis: Redis,
    runpod: RunPodSettings,
    *,
    telegram: FakeTelegram | None = None,
    input_builder: InputBuilder | None = None,
    **overrides: Any,
) -> AsyncIterator[Bot]:
    settings = bot_settings(**overrides)
    telegram = telegram or FakeTelegram()
    async with RunPodClient(runpod) as endpoint:
        app = build_application(
            settings, Ledger(redis, settings.redis_prefix), endpoint, request=telegram, input_builder=input_builder
        )
        await start(app)
        try:
            yield Bot(app, telegram)
        finally:
            await asyncio.wait_for(stop(app), 20)


async def start(app: Application) -> None:  # type: ignore[type-arg]
    """PTB's run_polling/run_webhook start order: initialize -> post_init -> (updater) -> start."""
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()


async def stop(app: Application) -> None:  # type: ignore[type-arg]
    """PTB's real stop order (telegram/ext/_application.py, __run): stop -> post_stop -> shutdown -> post_shutdown.
    Services stop in post_stop, so whatever they still send goes through PTB's HTTP client before it closes."""
    await app.stop()
    if app.post_stop is not None:
        await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)
