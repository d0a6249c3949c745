"""/start (with a referral deep link), /help, /terms, /paysupport, /language and /referral."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.handlers import support
from bot.handlers.common import caller, command_args
from bot.services import svc
from bot.texts import LANGUAGES, t

log = logging.getLogger("bot.handlers.start")
REF_PREFIX = "ref_"


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s = svc(context)
    me = await caller(update, context)
    payload = command_args(update)
    if me.new and payload.startswith(REF_PREFIX) and payload[len(REF_PREFIX) :].isdigit():
        await _credit_referral(context, int(payload[len(REF_PREFIX) :]), me.uid)
    balance = await s.ledger.balance(me.uid)
    if me.new:
        cheapest_video = min(s.settings.video_costs.values())
        text = t(me.lang, "welcome", balance=balance, image_cost=s.settings.image_cost, video_cost=cheapest_video)
    else:
        text = t(me.lang, "welcome_back", balance=balance)
    assert update.effective_message is not None
    await update.effective_message.reply_text(text)


async def _credit_referral(context: ContextTypes.DEFAULT_TYPE, inviter: int, invitee: int) -> None:
    s = svc(context)
    bonus = s.settings.referral_bonus
    outcome = await s.ledger.referral(inviter, invitee, bonus)
    if not outcome.ok or bonus <= 0:
        return
    lang = (await s.ledger.user(inviter)).get("lang") or "en"
    try:
        await context.bot.send_message(inviter, t(lang, "referral_bonus", bonus=bonus))
    except TelegramError as exc:  # the inviter may have blocked the bot; the bonus stands
        log.info("referral notice not sent: %s", exc)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(me.lang, "help", bonus=svc(context).settings.referral_bonus))


async def terms(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(me.lang, "terms"))


async def paysupport(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    assert update.effective_message is not None
    await support.begin(context, me)
    await update.effective_message.reply_text(t(me.lang, "paysupport"))


async def referral(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s = svc(context)
    me = await caller(update, context)
    link = f"https://t.me/{context.bot.username}?start={REF_PREFIX}{me.uid}"
    count = (await s.ledger.user(me.uid)).get("invited", "0")
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        t(me.lang, "referral", bonus=s.settings.referral_bonus, link=link, count=count)
    )


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    names = {"en": "English", "ru": "Русский"}
    keyboard = [[InlineKeyboardButton(names[code], callback_data=f"lang:{code}") for code in LANGUAGES]]
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(me.lang, "language_pick"), reply_markup=InlineKeyboardMarkup(keyboard))


async def language_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    me = await caller(update, context)
    code = query.data.split(":", 1)[1]
    if code not in LANGUAGES:
        return
    await svc(context).ledger.set_user_field(me.uid, "lang", code)
    await query.edit_message_text(t(code, "language_set"))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    app.add_handler(CommandHandler("terms", terms))
    app.add_handler(CommandHandler("paysupport", paysupport))
    app.add_handler(CommandHandler("referral", referral))
    app.add_handler(CommandHandler("language", language))
    app.add_handler(CallbackQueryHandler(language_chosen, pattern=r"^lang:"))
