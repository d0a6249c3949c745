"""/cancel (or the Cancel button on a status message): stop the user's running job; its lifecycle refunds."""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.handlers.common import caller, own_job
from bot.handlers.launch import kept_requests
from bot.services import svc
from bot.texts import t


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s = svc(context)
    me = await caller(update, context)
    await s.drafts.clear(me.uid)
    job_id = await s.ledger.user_lock(me.uid)
    ok = job_id is not None and await s.lifecycle.request_cancel(job_id)
    queued = await kept_requests(s).clear(me.uid)  # what waited behind it goes too
    for kept in queued:
        with contextlib.suppress(TelegramError):
            await context.bot.edit_message_text(
                t(me.lang, "err_CANCELLED"), chat_id=kept.chat_id, message_id=kept.status_msg
            )
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(me.lang, "cancel_requested" if ok or queued else "cancel_none"))


async def cancel_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    s = svc(context)
    me = await caller(update, context)
    job_id = await own_job(context, query.data, me.uid)
    ok = job_id is not None and await s.lifecycle.request_cancel(job_id)
    await query.answer(t(me.lang, "cancel_requested" if ok else "cancel_none"))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("cancel", cancel))
    app.add_handler(CallbackQueryHandler(cancel_button, pattern=r"^cancel:"))
