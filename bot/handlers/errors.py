"""Errors are never silent: a failed update tells its user once (in their language) and alerts the admins with a
trace id that is also on the log line; its button spinner or pre-checkout is answered too."""

from __future__ import annotations

import contextlib
import logging
import time

from telegram import Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.services import svc
from bot.texts import pick_language, t
from bot.updates import current_trace_id
from workflows.redact import redact, secret_values, secrets_from_env

log = logging.getLogger("bot.errors")
ALERT_EVERY_S = 60.0  # one admin alert per kind of error and minute: a failing dependency must not flood them
ALERTS = "error_alerts"  # bot_data key: error kind -> when the admins were last told


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    trace = current_trace_id()  # the update's own: every log line of its handling carries it
    user = update.effective_user if isinstance(update, Update) else None
    uid = user.id if user is not None else None
    log.error("update failed", exc_info=error, extra={"trace_id": trace, "uid": uid})
    if isinstance(error, Forbidden):
        return  # the user blocked the bot (bot.flood recorded it): nobody to tell, nothing for the admins
    if isinstance(update, Update):
        await _tell_user(update, context, trace)
    await _alert_admins(context, error, trace, uid)


async def _language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    user = update.effective_user
    fallback = pick_language(user.language_code if user else None)
    if user is None:
        return fallback
    try:  # the error may be Redis itself
        return (await svc(context).ledger.user(user.id)).get("lang") or fallback
    except Exception:
        return fallback


async def _tell_user(update: Update, context: ContextTypes.DEFAULT_TYPE, trace: str) -> None:
    """Once: as the tap's answer when Telegram still takes one (the spinner stops), else as a message."""
    lang = await _language(update, context)
    text = t(lang, "error_update", trace=trace)
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):  # the handler may have answered it already
            await update.callback_query.answer(text, show_alert=True)
            return
    if update.pre_checkout_query is not None:
        with contextlib.suppress(TelegramError):
            await update.pre_checkout_query.answer(ok=False, error_message=text)
        return
    chat = update.effective_chat
    if chat is not None and chat.type == "private":
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(chat.id, text)


async def _alert_admins(
    context: ContextTypes.DEFAULT_TYPE, error: BaseException | None, trace: str, uid: int | None
) -> None:
    kind = type(error).__name__ if error is not None else "unknown"
    last: dict[str, float] = context.application.bot_data.setdefault(ALERTS, {})
    now = time.monotonic()
    if kind in last and now - last[kind] < ALERT_EVERY_S:
        return
    last[kind] = now
    settings = svc(context).settings
    # Exception texts can carry URLs with tokens (httpx's do): masked like log lines.
    detail = redact(f"{kind}: {error}", [*secret_values(settings), *secrets_from_env()])[:500]
    text = f"⚠️ Error {trace} (user {uid if uid is not None else '-'}): {detail}\nThe log line carries trace_id={trace}."
    for admin in settings.admin_ids:
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(admin, text)
