"""Start-up check of the bot's deployment settings: stop at once with a clear message instead of failing later.

Run by ``python -m bot`` before anything starts. Catches the incomplete combinations a first deployment hits:
a RunPod endpoint id without the API key RunPod requires, and no endpoint id in the bot image, which does not
contain the local endpoint (``handler.local_endpoint``) that a missing id otherwise starts (docs/deploy.md).
"""

from __future__ import annotations

import importlib.util
import re

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.runpod_client import RunPodSettings
from bot.settings import BotSettings

RUNPOD_BASE_URL = str(RunPodSettings.model_fields["base_url"].default)
# What Telegram accepts as setWebhook's secret_token; the RunPod secret is a URL path segment, so the same set.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class EndpointEnv(BaseSettings):
    """The RUNPOD_* settings as RunPodSettings reads them, all optional here so that each gap can be named."""

    model_config = SettingsConfigDict(env_prefix="RUNPOD_", env_file=".env", extra="ignore")

    endpoint_id: str | None = None
    api_key: SecretStr | None = None
    base_url: str = RUNPOD_BASE_URL


def local_endpoint_available() -> bool:
    """True in a checkout; False in the bot image, which ships bot/ and workflows/ only."""
    return importlib.util.find_spec("handler") is not None


def problems(env: EndpointEnv, has_local_endpoint: bool) -> list[str]:
    found = []
    uses_runpod = env.base_url.rstrip("/") == RUNPOD_BASE_URL.rstrip("/")
    if env.endpoint_id and uses_runpod and not (env.api_key and env.api_key.get_secret_value()):
        found.append(
            "RUNPOD_ENDPOINT_ID is set but RUNPOD_API_KEY is not: RunPod refuses requests without it "
            "(create a key in the RunPod console, Settings, API Keys; docs/deploy.md step 1)"
        )
    if not env.endpoint_id and not has_local_endpoint:
        found.append(
            "RUNPOD_ENDPOINT_ID is not set and this image has no local endpoint to fall back to: set "
            "RUNPOD_ENDPOINT_ID and RUNPOD_API_KEY in the bot's env file (docs/deploy.md)"
        )
    return found


def webhook_problems(settings: BotSettings) -> list[str]:
    """Webhook settings that would otherwise fail quietly: polling despite PUBLIC_URL, or setWebhook refused."""
    found = []
    tg_secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else ""
    rp_secret = settings.runpod_webhook_secret.get_secret_value() if settings.runpod_webhook_secret else ""
    if settings.public_url:
        if not settings.public_url.startswith("https://"):
            found.append(
                "PUBLIC_URL must start with https:// (Telegram calls webhooks over HTTPS only; docs/deploy.md)"
            )
        if not tg_secret:
            found.append(
                "PUBLIC_URL is set but TELEGRAM_WEBHOOK_SECRET is not: set both for webhook mode (openssl rand -hex 32),"
                " or neither for long polling (docs/deploy.md step 10)"
            )
    for name, value in (("TELEGRAM_WEBHOOK_SECRET", tg_secret), ("RUNPOD_WEBHOOK_SECRET", rp_secret)):
        if value and not SECRET_PATTERN.fullmatch(value):
            found.append(f"{name} may hold only A-Z a-z 0-9 _ - (1 to 256 characters): openssl rand -hex 32 makes one")
    return found
