"""The real Application wired to a fake Telegram (request layer), a real Redis and an endpoint over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from telegram.ext import Application

from bot.app import InputBuilder, build_application, start_services, stop_services
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
        lease_s=2,
        poll_webhook_s=1,
        reaper_interval_s=0.1,
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
        await self.services.tracker.wait_idle()


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
        async with app:
            await app.start()  # running, as under run_polling (non-blocking handlers' tasks are awaited)
            await start_services(app)
            try:
                yield Bot(app, telegram)
            finally:
                await asyncio.wait_for(stop_services(app), 10)
                await app.stop()
