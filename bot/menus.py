"""The command menu Telegram shows next to the input field, in every language the bot speaks."""

from __future__ import annotations

import logging
from typing import Final

from telegram import Bot, BotCommand
from telegram.error import TelegramError

from bot.texts import LANGUAGES, READS_RUSSIAN, pick_language, t

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
MENU_CODES: Final[tuple[str, ...]] = tuple(dict.fromkeys((*LANGUAGES, *READS_RUSSIAN)))


def commands(lang: str) -> list[BotCommand]:
    return [BotCommand(name, t(lang, f"cmd_{name}")) for name in COMMANDS]


async def set_command_menus(bot: Bot) -> None:
    """English for everyone (Telegram's default menu), then one menu per language, chosen by the client's
    language (``language_code``). A refusal only costs the menu, never the start-up."""
    menus: list[tuple[str, str | None]] = [(DEFAULT_LANGUAGE, None)]
    # Each client language the bot answers in another language gets that language's menu (Belarusian -> Russian),
    # so the menu always matches the replies (pick_language decides both).
    menus += [(pick_language(code), code) for code in MENU_CODES if pick_language(code) != DEFAULT_LANGUAGE]
    for lang, code in menus:
        try:
            await bot.set_my_commands(commands(lang), language_code=code)
        except TelegramError as exc:
            log.warning("could not set the %s command menu: %s", lang, exc)
