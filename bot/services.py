"""What every handler needs, kept in ``application.bot_data`` under one key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import ContextTypes

from bot.drafts import Drafts
from bot.ledger import Ledger
from bot.lifecycle import Lifecycle
from bot.runpod_client import RunPodClient
from bot.settings import BotSettings

KEY = "services"


@dataclass
class Services:
    settings: BotSettings
    ledger: Ledger
    drafts: Drafts
    endpoint: RunPodClient
    lifecycle: Lifecycle

    def is_admin(self, uid: int | None) -> bool:
        return uid is not None and uid in self.settings.admin_ids


def svc(context: ContextTypes.DEFAULT_TYPE | Any) -> Services:
    services: Services = context.application.bot_data[KEY]
    return services
