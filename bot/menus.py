"""The command menu Telegram shows next to the input field, in every language the bot speaks."""

from __future__ import annotations

import logging
from typing import Final

from telegram import Bot, BotCommand
from telegram.error import TelegramError

from bot.texts import LANGUAGES, t

log = logging.getLogger("bot.menus")

COMMANDS: Final[tuple[str, ...]] = (
    "imagine",
    "animate",
    "settings",
    "history",
    "balance",
    "buy",
    "cancel",
    "referral",
    "language",
    "help",
    "terms",
    "paysupport",
)
DEFAULT_LANGUAGE: Final = "en"


def commands(lang: str) -> list[BotCommand]:
    return [BotCommand(name, t(lang, f"cmd_{name}")) for name in COMMANDS]


async def set_command_menus(bot: Bot) -> None:
    """English for everyone (Telegram's default menu), then one menu per language, chosen by the client's
    language (``language_code``). A refusal only costs the menu, never the start-up."""
    menus: list[tuple[str, str | None]] = [(DEFAULT_LANGUAGE, None)]
    menus += [(lang, lang) for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]
    for lang, code in menus:
        try:
            await bot.set_my_commands(commands(lang), language_code=code)
        except TelegramError as exc:
            log.warning("could not set the %s command menu: %s", lang, exc)
