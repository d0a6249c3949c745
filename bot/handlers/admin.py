"""Admin commands (user ids from ADMIN_IDS): /stats /grant /ban /unban /broadcast /refund.

For everyone else these commands do not exist: they fall through to the usual "unknown command" answer.
"""

from __future__ import annotations

import logging
import re

from telegram import Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot.handlers.common import command_args
from bot.ledger import MAX_AMOUNT, MAX_BALANCE
from bot.services import svc

log = logging.getLogger("bot.handlers.admin")
BROADCASTER = "broadcaster"


async def _reply(update: Update, text: str) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(text)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s = svc(context)
    st = await s.ledger.stats()
    redis = s.ledger.redis
    open_jobs = int(await redis.zcard(s.ledger.keys.active))
    queued = int(await redis.zcard(s.ledger.keys.queued))
    lines = [
        f"Users: {await s.ledger.user_count()}",
        f"Jobs: open {open_jobs} (waiting on the endpoint {queued}), charged {st.get('jobs_charged', 0)}, "
        f"refunded {st.get('jobs_refunded', 0)}, total {st.get('jobs_reserved', 0)}",
        f"Credits: sold {st.get('credits_sold', 0)}, spent {st.get('credits_spent', 0)}, "
        f"refunded {st.get('credits_refunded', 0)}, granted {st.get('credits_granted', 0)}, "
        f"welcome {st.get('credits_welcome', 0)}, referral {st.get('credits_referral', 0)}",
        f"Stars: received {st.get('stars_received', 0)}, refunded {st.get('stars_refunded', 0)}",
        f"Queue depth: {open_jobs}/{s.settings.max_active_jobs}",
    ]
    await _reply(update, "\n".join(lines))


GRANT_USAGE = (
    f"Usage: /grant <user id> <credits>: a whole number from -{MAX_AMOUNT} to {MAX_AMOUNT}, not 0 (negative deducts)"
)
_USER_ID = re.compile(r"[0-9]{1,15}")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses
_CREDITS = re.compile(r"[+-]?[0-9]{1,10}")


def parse_grant(text: str) -> tuple[int, int] | str:
    """(user id, amount) from /grant's arguments, or the reply explaining what is wrong."""
    args = text.split()
    if len(args) != 2:
        return GRANT_USAGE
    if not _USER_ID.fullmatch(args[0]):
        return f"{args[0][:32]!r} is not a user id (digits only). " + GRANT_USAGE
    if not _CREDITS.fullmatch(args[1]):
        return f"{args[1][:32]!r} is not a whole number of credits. " + GRANT_USAGE
    amount = int(args[1])
    if amount == 0 or abs(amount) > MAX_AMOUNT:
        return f"{amount} credits is out of range. " + GRANT_USAGE
    return int(args[0]), amount


async def grant(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parsed = parse_grant(command_args(update))
    if isinstance(parsed, str):
        await _reply(update, parsed)
        return
    uid, amount = parsed
    assert update.effective_user is not None
    out = await svc(context).ledger.grant(uid, amount, update.effective_user.id)
    if out.ok:
        await _reply(update, f"User {uid}: balance {out.balance}.")
    elif out.status == "no_user":
        await _reply(update, f"User {uid} has never started the bot.")
    elif out.status == "balance_limit":
        await _reply(update, f"Refused: balance is {out.balance}; it cannot go above {MAX_BALANCE}.")
    else:
        await _reply(update, f"Refused: balance is {out.balance}; it cannot go below zero.")


async def _set_ban(update: Update, context: ContextTypes.DEFAULT_TYPE, banned: bool) -> None:
    arg = command_args(update)
    if not arg.isdigit():
        await _reply(update, f"Usage: /{'ban' if banned else 'unban'} <user id>")
        return
    ok = await svc(context).ledger.set_user_field(int(arg), "banned", "1" if banned else "0")
    state = "banned" if banned else "unbanned"
    await _reply(update, f"User {arg} {state}." if ok else f"User {arg} has never started the bot.")


async def ban(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _set_ban(update, context, True)


async def unban(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _set_ban(update, context, False)


async def broadcast(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = command_args(update)
    if not text:
        await _reply(update, "Usage: /broadcast <text>")
        return
    assert update.effective_chat is not None
    bid = await context.application.bot_data[BROADCASTER].start(update.effective_chat.id, text)
    await _reply(update, f"Broadcast {bid} started; I'll report when it is done.")


async def refund(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    charge = command_args(update)
    if not charge:
        await _reply(update, "Usage: /refund <telegram payment charge id>")
        return
    await _reply(update, await refund_charge(context, charge))


async def refund_charge(context: ContextTypes.DEFAULT_TYPE, charge: str) -> str:
    """Refund a Stars payment: take its credits back first; refuse when they were already spent. The outcome."""
    ledger = svc(context).ledger
    begun = await ledger.refund_payment(charge, "begin")
    if not begun.ok:
        reasons = {
            "unknown": "No such payment.",
            "spent": f"Refused: the credits were already spent (balance {begun.balance}).",
            "refunded": "Already refunded.",
            "refunding": "A refund of this payment is in progress.",
        }
        return reasons.get(begun.status, f"Refused: {begun.status}.")
    payment = await ledger.payment(charge)
    assert payment is not None
    try:
        await context.bot.refund_star_payment(int(payment["uid"]), charge)
    except BadRequest as exc:
        if "CHARGE_ALREADY_REFUNDED" not in exc.message.upper():
            await ledger.refund_payment(charge, "abort")
            return f"Telegram refused the refund ({exc.message}); the credits were given back."
    except TelegramError as exc:
        await ledger.refund_payment(charge, "abort")
        return f"The refund failed ({exc}); the credits were given back."
    await ledger.refund_payment(charge, "commit")
    return f"Refunded {payment['stars']} Stars; {payment['credits']} credits taken back."


def register(app: Application, admin_ids: list[int]) -> None:  # type: ignore[type-arg]
    admins = filters.User(user_id=admin_ids)
    for name, callback in (
        ("stats", stats),
        ("grant", grant),
        ("ban", ban),
        ("unban", unban),
        ("broadcast", broadcast),
        ("refund", refund),
    ):
        app.add_handler(CommandHandler(name, callback, filters=admins))
