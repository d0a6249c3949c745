"""Payment support that reaches someone (Telegram's Stars terms require it).

After /paysupport the user's next text message goes to every admin (ADMIN_IDS) with the user's id, balance and
recent payments, and a refund button per refundable payment. An admin answers by replying to that message (or
``/reply <uid> <text>``); the answer reaches the user in the bot's chat.

Redis keys (prefixed): ``support:msg:{admin}:{message}`` -> the user a forwarded request came from;
``support:charge:{token}`` -> the charge id behind a refund button (ids can exceed callback data's 64 bytes).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.handlers.admin import refund_charge
from bot.handlers.common import Caller, command_args
from bot.ledger import to_str
from bot.services import Services, svc
from bot.texts import t

log = logging.getLogger("bot.handlers.support")
INTENT = "support"
KEEP_S = 30 * 24 * 3600  # how long an admin can still answer a request or press its refund button
RECENT = 5


def _msg_key(s: Services, admin: int, message_id: int) -> str:
    return s.ledger.keys.support_msg(admin, message_id)


def _charge_key(s: Services, token: str) -> str:
    return s.ledger.keys.support_charge(token)


async def begin(context: ContextTypes.DEFAULT_TYPE, me: Caller) -> None:
    """/paysupport: the user's next message is for the admins."""
    await svc(context).drafts.expect(me.uid, INTENT)


async def recent_payments(s: Services, uid: int) -> list[tuple[str, dict[str, str]]]:
    """The user's latest payments (charge id, its record), newest first."""
    charges = [e.ref for e in await s.ledger.recent(uid, count=50) if e.reason == "payment"][:RECENT]
    found = [(charge, await s.ledger.payment(charge)) for charge in charges]
    return [(charge, pay) for charge, pay in found if pay is not None]


def _payment_line(charge: str, pay: dict[str, str]) -> str:
    when = datetime.fromtimestamp(int(pay.get("at", "0")) / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    return f"• {when} UTC · {pay['stars']} ⭐ → {pay['credits']} credits · {pay['state']} · {charge}"


async def forward(message: Message, context: ContextTypes.DEFAULT_TYPE, me: Caller) -> None:
    """Send the user's request to every admin; remember which user each copy came from."""
    s = svc(context)
    await s.drafts.clear(me.uid)
    user = message.from_user
    who = (user.full_name + (f" @{user.username}" if user.username else "")) if user is not None else "?"
    payments = await recent_payments(s, me.uid)
    lines = [
        f"💬 Support request from user {me.uid} ({who}). Reply to this message to answer.",
        "",
        message.text or "",
        "",
        f"Balance: {await s.ledger.balance(me.uid)} credits. Recent payments:",
        *([_payment_line(charge, pay) for charge, pay in payments] or ["(none)"]),
    ]
    buttons = []
    for charge, pay in payments:
        if pay["state"] == "paid":
            token = hashlib.sha256(charge.encode()).hexdigest()[:16]
            await s.ledger.redis.set(_charge_key(s, token), charge, ex=KEEP_S)
            buttons.append(
                [InlineKeyboardButton(f"↩ Refund {pay['stars']} ⭐ ({charge[:12]}…)", callback_data=f"sref:{token}")]
            )
    markup = InlineKeyboardMarkup(buttons) if buttons else None
    reached = 0
    for admin in s.settings.admin_ids:
        try:
            sent = await context.bot.send_message(admin, "\n".join(lines), reply_markup=markup)
        except TelegramError as exc:
            log.warning("support request not delivered to an admin: %s", exc, extra={"admin": admin})
            continue
        await s.ledger.redis.set(_msg_key(s, admin, sent.message_id), me.uid, ex=KEEP_S)
        reached += 1
    log.info("support request", extra={"uid": me.uid, "admins_reached": reached})
    await message.reply_text(t(me.lang, "support_sent" if reached else "support_unavailable"))


async def admin_reply(message: Message, context: ContextTypes.DEFAULT_TYPE, admin: int) -> bool:
    """An admin's reply to a forwarded request goes to its user; False when it replies to something else."""
    replied = message.reply_to_message
    if replied is None:
        return False
    s = svc(context)
    uid = await s.ledger.redis.get(_msg_key(s, admin, replied.message_id))
    if uid is None:
        return False
    await _deliver(message, context, int(to_str(uid)), message.text or "")
    return True


async def _deliver(message: Message, context: ContextTypes.DEFAULT_TYPE, uid: int, text: str) -> None:
    s = svc(context)
    lang = (await s.ledger.user(uid)).get("lang") or "en"
    try:
        await context.bot.send_message(uid, t(lang, "support_reply", text=text))
    except Forbidden:
        await message.reply_text(f"User {uid} has blocked the bot; not delivered.")
        return
    await message.reply_text(f"Sent to user {uid}.")


async def reply_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reply <uid> <text> (admins)."""
    message = update.effective_message
    assert message is not None
    parts = command_args(update).split(maxsplit=1)
    if len(parts) != 2 or not parts[0].isdigit():
        await message.reply_text("Usage: /reply <user id> <text>")
        return
    await _deliver(message, context, int(parts[0]), parts[1])


async def refund_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An admin pressed a request's refund button: the same refund as /refund <charge id>."""
    query = update.callback_query
    assert query is not None and query.data is not None
    s = svc(context)
    if query.from_user is None or not s.is_admin(query.from_user.id):
        await query.answer()
        return
    charge = await s.ledger.redis.get(_charge_key(s, query.data.split(":", 1)[1]))
    if charge is None:
        await query.answer("This request is too old; use /refund <charge id>.", show_alert=True)
        return
    await query.answer()
    text = await refund_charge(context, to_str(charge))
    with contextlib.suppress(TelegramError):
        await context.bot.send_message(query.from_user.id, text)


def register(app: Application, admin_ids: list[int]) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("reply", reply_command, filters=filters.User(user_id=admin_ids)))
    app.add_handler(CallbackQueryHandler(refund_button, pattern=r"^sref:"))
