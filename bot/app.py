"""Building the bot: the PTB Application with every handler, the job lifecycle and the broadcaster on one Redis."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import Application, ApplicationBuilder
from telegram.request import BaseRequest

from bot import blocking
from bot.broadcast import Broadcaster
from bot.drafts import Drafts
from bot.flood import ChatRateLimiter
from bot.handlers import (
    actions,
    admin,
    animate,
    balance,
    cancel,
    fallback,
    gate,
    history,
    imagine,
    launch,
    original,
    payments,
    start,
    support,
)
from bot.handlers import settings as settings_
from bot.handlers.errors import on_error
from bot.job_input import build_input
from bot.jobs import JobRecord
from bot.ledger import Ledger
from bot.lifecycle import Lifecycle
from bot.media import telegram_file
from bot.menus import set_command_menus
from bot.notifier import TelegramNotifier
from bot.runpod_client import RunPodClient
from bot.runpod_webhook import RunPodWebhookServer
from bot.services import KEY, Services
from bot.settings import BotSettings
from bot.stars import StarsReconciler
from bot.updates import PerUserUpdates

log = logging.getLogger("bot.app")

WEBHOOK = "runpod_webhook"
STARS = "stars"
InputBuilder = Callable[[JobRecord], Awaitable[dict[str, Any]]]


def build_application(
    settings: BotSettings,
    ledger: Ledger,
    endpoint: RunPodClient,
    *,
    request: BaseRequest | None = None,
    input_builder: InputBuilder | None = None,
    owner: str | None = None,
) -> Application:  # type: ignore[type-arg]
    """The bot, ready for ``run_polling``/``run_webhook`` (or ``initialize`` + ``start_services`` in tests)."""
    builder = ApplicationBuilder().token(settings.telegram_bot_token.get_secret_value())
    limiter = ChatRateLimiter(max_retries=3, is_blocked=lambda uid: blocking.is_blocked(ledger, uid))
    builder = builder.rate_limiter(limiter).concurrent_updates(PerUserUpdates())  # type: ignore[assignment]
    if settings.telegram_base_url:
        builder = builder.base_url(settings.telegram_base_url)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    # PTB stops in this order: Application.stop -> post_stop -> shutdown (closes its HTTP client) -> post_shutdown.
    # The job queue stops in post_stop, while steps mid-delivery can still reach Telegram.
    builder = builder.post_init(start_services).post_stop(stop_services)
    app = builder.build()

    async def default_builder(job: JobRecord) -> dict[str, Any]:
        return await build_input(job, lambda file_id: telegram_file(app.bot, file_id), lifecycle.stored_output)

    notifier = TelegramNotifier(app.bot, ledger, settings)
    name = owner or f"bot-{uuid.uuid4().hex[:8]}"
    lifecycle = Lifecycle(ledger, endpoint, notifier, input_builder or default_builder, settings, name)
    drafts = Drafts(ledger.redis, settings.redis_prefix)
    services = app.bot_data[KEY] = Services(settings, ledger, drafts, endpoint, lifecycle)
    limiter.on_blocked = lambda uid: blocking.blocked(services, uid, "403")
    notifier.after_settle = lambda job: launch.start_next(services, app.bot, job.uid)  # the user's queued request
    app.bot_data[admin.BROADCASTER] = Broadcaster(app.bot, ledger, settings.broadcast_rate_per_s, name)
    app.bot_data[STARS] = StarsReconciler(app.bot, ledger, settings.stars_reconcile_interval_s, settings.free_credits)

    gate.register(app)
    blocking.register(app)
    for module in (start, balance, imagine, animate, cancel, original, payments, actions, history, settings_):
        module.register(app)
    admin.register(app, settings.admin_ids)
    support.register(app, settings.admin_ids)
    fallback.register(app)
    app.add_error_handler(on_error)
    return app


async def start_services(app: Application) -> None:  # type: ignore[type-arg]
    """Run the job queue here (it picks up every job left in flight) and resume broadcasts."""
    services: Services = app.bot_data[KEY]
    await services.lifecycle.start()
    await app.bot_data[admin.BROADCASTER].resume()
    app.bot_data[STARS].start()
    s = services.settings
    if s.runpod_webhook_url and s.runpod_webhook_secret is not None:
        hook = RunPodWebhookServer(
            services.lifecycle,
            s.runpod_webhook_secret.get_secret_value(),
            host=s.runpod_webhook_listen,
            port=s.runpod_webhook_port,
            max_body_bytes=s.runpod_webhook_max_body_bytes,
        )
        hook.start()
        app.bot_data[WEBHOOK] = hook
    await set_command_menus(app.bot)


async def stop_services(app: Application) -> None:  # type: ignore[type-arg]
    """PTB's post_stop: take no new work, hand in-flight steps back to the queue (Telegram is still reachable)."""
    services: Services = app.bot_data[KEY]
    hook: RunPodWebhookServer | None = app.bot_data.pop(WEBHOOK, None)
    if hook is not None:
        await hook.stop()
    await app.bot_data[STARS].stop()
    await app.bot_data[admin.BROADCASTER].stop()
    await services.lifecycle.stop()
