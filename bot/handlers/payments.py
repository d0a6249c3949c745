"""Telegram Stars: /buy shows the packs, an XTR invoice per pack, a fast pre-checkout answer, and credits on
the successful payment only, once per Telegram charge id."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from bot.handlers.common import caller
from bot.services import svc
from bot.settings import CreditPack
from bot.texts import t

log = logging.getLogger("bot.handlers.payments")
CURRENCY = "XTR"


def payload_for(pack: CreditPack, uid: int) -> str:
    return f"pack:{pack.id}:{pack.credits}:{pack.stars}:{uid}"


async def buy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s = svc(context)
    me = await caller(update, context)
    rows = [
        [InlineKeyboardButton(t(me.lang, "pack_button", credits=p.credits, stars=p.stars), callback_data=f"buy:{p.id}")]
        for p in s.settings.packs
    ]
    text = t(me.lang, "buy_pick", balance=await s.ledger.balance(me.uid))
    await context.bot.send_message(me.chat_id, text, reply_markup=InlineKeyboardMarkup(rows))


async def pack_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    s = svc(context)
    pack_id = query.data.split(":", 1)[1]
    if pack_id == "menu":
        await buy(update, context)
        return
    me = await caller(update, context)
    pack = s.settings.pack(pack_id)
    if pack is None:
        await context.bot.send_message(me.chat_id, t(me.lang, "precheckout_bad"))
        return
    await context.bot.send_invoice(
        chat_id=me.chat_id,
        title=t(me.lang, "invoice_title", credits=pack.credits)[:32],
        description=t(me.lang, "invoice_description", credits=pack.credits),
        payload=payload_for(pack, me.uid),
        currency=CURRENCY,
        prices=[LabeledPrice(t(me.lang, "invoice_title", credits=pack.credits), pack.stars)],
    )


async def precheckout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer within Telegram's 10 s: only cheap checks (the pack still sold at this price, user not banned)."""
    query = update.pre_checkout_query
    assert query is not None
    s = svc(context)
    parts = query.invoice_payload.split(":")
    pack = s.settings.pack(parts[1]) if len(parts) == 5 else None
    valid = (
        pack is not None
        and query.currency == CURRENCY
        and query.total_amount == pack.stars
        and parts[2:5] == [str(pack.credits), str(pack.stars), str(query.from_user.id)]
        and not await s.ledger.is_banned(query.from_user.id)
    )
    if valid:
        await query.answer(ok=True)
    else:
        lang = (await s.ledger.user(query.from_user.id)).get("lang") or "en"
        await query.answer(ok=False, error_message=t(lang, "precheckout_bad"))


async def successful_payment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.successful_payment is not None
    payment = message.successful_payment
    s = svc(context)
    me = await caller(update, context)
    parts = payment.invoice_payload.split(":")
    # The credits are those the invoice promised (in its payload), whatever the packs are today.
    credits = int(parts[2]) if len(parts) == 5 and parts[2].isdigit() else 0
    if credits <= 0:
        log.error("payment with an unreadable payload", extra={"charge": payment.telegram_payment_charge_id})
        return
    outcome = await s.ledger.credit_payment(
        payment.telegram_payment_charge_id, me.uid, credits, payment.total_amount, parts[1]
    )
    if not outcome.ok:
        log.info("payment delivered again; already credited", extra={"charge": payment.telegram_payment_charge_id})
        return
    await message.reply_text(t(me.lang, "paid", credits=credits, balance=outcome.balance))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("buy", buy))
    app.add_handler(CallbackQueryHandler(pack_chosen, pattern=r"^buy:"))
    app.add_handler(PreCheckoutQueryHandler(precheckout))
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, successful_payment))
