"""Runs before every handler: banned users are stopped here (admins never are), and so are updates from no user."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from bot.services import svc
from bot.texts import t


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    if user is None:  # a channel post, a poll's new state: nobody to answer, register or charge
        raise ApplicationHandlerStop
    s = svc(context)
    if s.is_admin(user.id) or not await s.ledger.is_banned(user.id):
        return
    message = update.effective_message
    if message is not None and message.successful_payment is not None:
        return  # money Telegram already took is always credited
    lang = (await s.ledger.user(user.id)).get("lang") or "en"
    if update.pre_checkout_query is not None:
        await update.pre_checkout_query.answer(ok=False, error_message=t(lang, "banned"))
    elif update.callback_query is not None:
        await update.callback_query.answer(t(lang, "banned"), show_alert=True)
    elif message is not None:
        await message.reply_text(t(lang, "banned"))
    raise ApplicationHandlerStop


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(TypeHandler(Update, gate), group=-1)
