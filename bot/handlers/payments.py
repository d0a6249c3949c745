"""Telegram Stars: /buy shows the packs, an XTR invoice per pack, a fast pre-checkout answer, and credits on
the successful payment only, once per Telegram charge id."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
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

from bot.handlers.actions import offer_pending
from bot.handlers.common import caller
from bot.services import svc
from bot.settings import CreditPack
from bot.stars import PackPayload
from bot.texts import t

log = logging.getLogger("bot.handlers.payments")
T = TypeVar("T")
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
    # The credits are those the invoice promised (in its payload), whatever the packs are today.
    pack = PackPayload.parse(payment.invoice_payload)
    charge = payment.telegram_payment_charge_id
    if pack is None:
        log.error("payment with an unreadable payload", extra={"charge": charge})
        return
    credits = pack.credits

    async def credit() -> tuple[str, bool, int]:
        me = await caller(update, context)
        outcome = await s.ledger.credit_payment(charge, me.uid, credits, payment.total_amount, pack.pack)
        return me.lang, outcome.ok, outcome.balance

    # Telegram sends a successful payment once and never again once the update was taken: a Redis outage now
    # must delay the credit, not lose it (crediting is idempotent on the charge id, so retrying is safe).
    try:
        lang, credited, balance = await _while_redis_down(credit, s.settings.payment_retry_s, charge)
    except (RedisConnectionError, RedisTimeoutError):
        uid = update.effective_user.id if update.effective_user else None
        log.error(
            "payment NOT credited yet: Redis unreachable; the next Stars reconciliation credits it",
            extra={"charge": charge, "uid": uid, "credits": credits},
        )
        raise
    if not credited:
        log.info("payment delivered again; already credited", extra={"charge": charge})
        return
    await message.reply_text(t(lang, "paid", credits=credits, balance=balance))
    if update.effective_user is not None:  # the request that waited for these credits, one tap away
        await offer_pending(context, update.effective_user.id, lang)


async def _while_redis_down(op: Callable[[], Awaitable[T]], give_up_s: float, charge: str) -> T:
    delay, deadline = 0.2, time.monotonic() + give_up_s
    while True:
        try:
            return await op()
        except (RedisConnectionError, RedisTimeoutError):
            if time.monotonic() + delay > deadline:
                raise
            log.warning("Redis unreachable while crediting a payment; retrying", extra={"charge": charge})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("buy", buy))
    app.add_handler(CallbackQueryHandler(pack_chosen, pattern=r"^buy:"))
    app.add_handler(PreCheckoutQueryHandler(precheckout))
    # A crash before the credit is caught up by bot.stars (Telegram's transaction list) after the restart.
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, successful_payment))
