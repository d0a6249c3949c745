"""Turning a confirmed request into a job: reserve the credits, make a message the job's status, queue its first step.

A request is never thrown away: without enough credits it is kept and continued with one tap after buying;
while the user's previous job runs it is queued behind it (up to USER_QUEUE_MAX) and started when that settles.
"""

from __future__ import annotations

import logging

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.handlers.common import Caller
from bot.jobs import JobRequest, Kind, request_fields
from bot.requests import KeptRequest, KeptRequests
from bot.services import Services, svc
from bot.texts import t

log = logging.getLogger("bot.handlers.launch")


def buy_keyboard(lang: str, job_id: str | None = None) -> InlineKeyboardMarkup:
    row = [InlineKeyboardButton(t(lang, "buy_button"), callback_data="buy:menu")]
    if job_id:
        row.append(InlineKeyboardButton(t(lang, "continue_button"), callback_data=f"go:{job_id}"))
    return InlineKeyboardMarkup([row])


def kept_requests(s: Services) -> KeptRequests:
    return KeptRequests(s.ledger.redis, s.settings.redis_prefix)


async def launch(
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, me: Caller, job_id: str, request: JobRequest, cost: int
) -> None:
    """Start a job from a tapped offer: the offer's message becomes the job's status message."""
    status_msg = query.message.message_id if query.message is not None else 0
    kept = KeptRequest(
        job_id=job_id, uid=me.uid, chat_id=me.chat_id, lang=me.lang, request=request, cost=cost, status_msg=status_msg
    )
    await start(svc(context), context.bot, kept)


async def start(s: Services, bot: Bot, kept: KeptRequest, *, queue: bool = True, shown: bool = False) -> None:
    """Reserve and track; ``shown``: the request's message already says "Starting…" with its Cancel button."""
    lang = kept.lang
    deadline = s.settings.image_deadline_s if kept.request.kind is Kind.IMAGE else s.settings.video_deadline_s
    fields = request_fields(kept.request, kept.chat_id, lang) | {"status_msg": str(kept.status_msg)}
    outcome = await s.ledger.reserve(
        kept.uid, kept.job_id, kept.cost, deadline_s=deadline, max_active=s.settings.max_active_jobs, fields=fields
    )
    if outcome.status == "duplicate":
        return  # a second tap on the same button: the first one is already running
    if outcome.status == "locked" and queue:
        await _queue_behind(s, bot, kept)
        return
    if not outcome.ok:
        await _refuse(s, bot, kept, outcome.status, outcome.balance)
        return
    await kept_requests(s).drop_pending(kept.uid, kept.job_id)
    log.info("job reserved", extra={"job_id": kept.job_id, "uid": kept.uid, "cost": kept.cost})
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(lang, "cancel_button"), callback_data=f"cancel:{kept.job_id}")]]
    )
    if not shown:
        await _show(bot, kept, t(lang, "status_reserved"), markup)
    await s.lifecycle.start_job(kept.job_id)


async def _queue_behind(s: Services, bot: Bot, kept: KeptRequest) -> None:
    position = await kept_requests(s).enqueue(kept, s.settings.user_queue_max)
    if position == 0:
        await _show(bot, kept, t(kept.lang, "user_queue_full", count=s.settings.user_queue_max))
        return
    log.info("queued behind the user's job", extra={"job_id": kept.job_id, "uid": kept.uid, "position": position})
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(kept.lang, "cancel_button"), callback_data=f"uqx:{kept.job_id}")]]
    )
    await _show(bot, kept, t(kept.lang, "queued_behind", position=position), markup)


async def _refuse(s: Services, bot: Bot, kept: KeptRequest, status: str, balance: int) -> None:
    markup = None
    if status == "insufficient":
        await kept_requests(s).keep_pending(kept)
        markup = buy_keyboard(kept.lang, kept.job_id)
    await _show(bot, kept, _refusal(kept.lang, status, kept.cost, balance), markup)


async def start_next(s: Services, bot: Bot, uid: int) -> None:
    """The user's job settled: start their next queued request (a refusal now, e.g. credits, is shown on it)."""
    kept = await kept_requests(s).next(uid)
    if kept is not None:
        await start(s, bot, kept, queue=False)


async def _show(bot: Bot, kept: KeptRequest, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Put the text on the request's message (a new message when there is none or it cannot be edited)."""
    if kept.status_msg:
        try:
            await bot.edit_message_text(text, chat_id=kept.chat_id, message_id=kept.status_msg, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return
            log.info("request message not editable (%s); sending a new one", exc.message)
    await bot.send_message(kept.chat_id, text, reply_markup=markup)


def _refusal(lang: str, status: str, cost: int, balance: int) -> str:
    if status == "insufficient":
        return t(lang, "insufficient", cost=cost, balance=balance)
    if status == "locked":
        return t(lang, "locked")
    if status == "queue_full":
        return t(lang, "queue_full")
    if status == "banned":
        return t(lang, "banned")
    return t(lang, "draft_expired")
