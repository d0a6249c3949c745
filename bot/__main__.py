"""``python -m bot``: run the bot. Only TELEGRAM_BOT_TOKEN is required.

Without REDIS_URL an embedded Redis keeps its data in REDIS_DATA_DIR; without RUNPOD_ENDPOINT_ID the local
endpoint (with the real worker) runs as a child process. Polling by default; with PUBLIC_URL and
TELEGRAM_WEBHOOK_SECRET, Telegram's webhook (and RunPod's, with RUNPOD_WEBHOOK_SECRET).
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis
from telegram import Update

from bot import preflight
from bot.app import build_application
from bot.embedded import EmbeddedRedis, LocalEndpointProcess
from bot.ledger import Ledger
from bot.logs import setup_logging
from bot.runpod_client import RunPodClient, RunPodSettings
from bot.settings import BotSettings
from workflows.redact import secret_values


def main() -> None:
    try:
        settings = BotSettings()
    except ValidationError as exc:  # one message naming each bad setting instead of a traceback
        sys.exit(f"invalid bot settings (see .env.example): {exc}")
    if not settings.telegram_bot_token.get_secret_value():
        sys.exit("TELEGRAM_BOT_TOKEN is required (create a bot with @BotFather); see docs/bot.md")
    found = preflight.problems(preflight.EndpointEnv(), preflight.local_endpoint_available())
    if found := found + preflight.webhook_problems(settings):
        sys.exit("\n".join(found))
    setup_logging(settings.log_level, secrets=secret_values(settings))
    embedded = EmbeddedRedis(settings.redis_data_dir) if not settings.redis_url else None
    local = LocalEndpointProcess() if not settings.runpod_endpoint_id else None
    try:
        run(settings, embedded.url() if embedded else str(settings.redis_url), local)
    finally:
        if local is not None:
            local.stop()
        if embedded is not None:
            embedded.stop()


def run(settings: BotSettings, redis_url: str, local: LocalEndpointProcess | None) -> None:
    redis = Redis.from_url(redis_url)
    runpod = (
        RunPodSettings(base_url=local.base_url, endpoint_id="local") if local is not None else RunPodSettings()  # type: ignore[call-arg]
    )
    endpoint = RunPodClient(runpod)
    app = build_application(settings, Ledger(redis, settings.redis_prefix), endpoint)

    async def close(application: Any) -> None:
        """post_shutdown: the last of PTB's stop order; the services stopped in post_stop, before shutdown."""
        await endpoint.aclose()
        await redis.aclose()

    app.post_shutdown = close
    secret = settings.telegram_webhook_secret
    if settings.public_url and secret is not None:
        app.run_webhook(
            listen=settings.telegram_webhook_listen,
            port=settings.telegram_webhook_port,
            url_path="telegram",
            webhook_url=f"{settings.public_url.rstrip('/')}/telegram",
            secret_token=secret.get_secret_value(),
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
