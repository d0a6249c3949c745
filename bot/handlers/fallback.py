"""What is left: the prompt after a bare /imagine, unknown commands, and anything else."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.handlers import imagine, settings
from bot.handlers.common import caller
from bot.services import svc
from bot.texts import t


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    message = update.effective_message
    assert message is not None and message.text is not None
    intent = await svc(context).drafts.expected(me.uid)
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


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, text))
