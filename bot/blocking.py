"""Users who blocked the bot (a ``my_chat_member`` update with status ``kicked``, or Telegram's 403 on a send):
their open jobs are cancelled on RunPod and refunded, and nothing more is sent to them until they unblock it
(status ``member`` again, or any update from them). The flag is the ``blocked`` field of ``user:{uid}``.
"""

from __future__ import annotations

import logging

from telegram import ChatMember, ChatMemberUpdated, Update
from telegram.ext import Application, ChatMemberHandler, ContextTypes

from bot.handlers.launch import kept_requests
from bot.ledger import Ledger, to_str
from bot.services import Services, svc

log = logging.getLogger("bot.blocking")
FIELD = "blocked"


async def is_blocked(ledger: Ledger, uid: int) -> bool:
    return to_str(await ledger.redis.hget(ledger.keys.user(uid), FIELD) or "") == "1"


async def cancel_user_jobs(services: Services, uid: int) -> list[str]:
    """Cancel (on RunPod) and refund every open job of ``uid`` through the job lifecycle; the job ids asked to
    stop. Requests queued behind them are dropped too, so settling the job does not start the next one."""
    await kept_requests(services).clear(uid)
    return await services.lifecycle.cancel_user_jobs(uid, "BLOCKED")  # the refund's code in the ledger


async def blocked(services: Services, uid: int, why: str) -> None:
    """The user blocked the bot: no more sends, and their jobs stop and are refunded."""
    if not await services.ledger.set_user_field(uid, FIELD, "1"):
        return  # never started the bot: nothing to stop
    jobs = await cancel_user_jobs(services, uid)
    log.info("user blocked the bot", extra={"uid": uid, "why": why, "jobs_cancelled": jobs})


async def unblocked(ledger: Ledger, uid: int) -> None:
    if await is_blocked(ledger, uid):
        await ledger.set_user_field(uid, FIELD, "0")
        log.info("user unblocked the bot", extra={"uid": uid})


async def member_changed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    uid = change.chat.id
    if change.new_chat_member.status == ChatMember.BANNED:  # "kicked": the user blocked the bot
        await blocked(svc(context), uid, "my_chat_member")
    elif change.new_chat_member.status == ChatMember.MEMBER:
        await unblocked(svc(context).ledger, uid)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(ChatMemberHandler(member_changed, ChatMemberHandler.MY_CHAT_MEMBER))
