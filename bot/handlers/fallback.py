"""What is left: the prompt after a bare /imagine, unknown commands, stale or unknown buttons, and anything else."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.handlers import imagine, settings, support
from bot.handlers.common import caller
from bot.services import svc
from bot.texts import t


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    message = update.effective_message
    assert message is not None and message.text is not None
    s = svc(context)
    if s.is_admin(me.uid) and await support.admin_reply(message, context, me.uid):
        return
    intent = await s.drafts.expected(me.uid)
    if intent == support.INTENT:
        await support.forward(message, context, me)
        return
    if intent == imagine.INTENT:
        await imagine.offer(message, context, me, message.text)
        return
    if intent == settings.NEGATIVE_INTENT:
        await settings.negative_typed(message, context, me, message.text)
        return
    await message.reply_text(t(me.lang, "send_prompt_or_photo"))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(me.lang, "unknown_command"))


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button no handler knows (an old keyboard after an update, forged data): stop its spinner, say so."""
    query = update.callback_query
    assert query is not None
    me = await caller(update, context)
    await query.answer(t(me.lang, "button_stale"))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CallbackQueryHandler(stale_button))
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, text))
