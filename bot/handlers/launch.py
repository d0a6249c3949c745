"""Turning a confirmed draft into a job: reserve the credits, make the message the job's status, queue its first step."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import ContextTypes

from bot.handlers.common import Caller
from bot.jobs import JobRequest, Kind, request_fields
from bot.services import svc
from bot.texts import t

log = logging.getLogger("bot.handlers.launch")


def buy_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t(lang, "buy_button"), callback_data="buy:menu")]])


async def launch(
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, me: Caller, job_id: str, request: JobRequest, cost: int
) -> None:
    s = svc(context)
    deadline = s.settings.image_deadline_s if request.kind is Kind.IMAGE else s.settings.video_deadline_s
    fields = request_fields(request, me.chat_id, me.lang)
    if query.message is not None:
        fields["status_msg"] = str(query.message.message_id)
    outcome = await s.ledger.reserve(
        me.uid, job_id, cost, deadline_s=deadline, max_active=s.settings.max_active_jobs, fields=fields
    )
    if outcome.status == "duplicate":
        return  # a second tap on the same button: the first one is already running
    if not outcome.ok:
        markup = buy_keyboard(me.lang) if outcome.status == "insufficient" else None
        await query.edit_message_text(_refusal(me.lang, outcome.status, cost, outcome.balance), reply_markup=markup)
        return
    log.info("job reserved", extra={"job_id": job_id, "uid": me.uid, "cost": cost})
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(me.lang, "cancel_button"), callback_data=f"cancel:{job_id}")]]
    )
    await query.edit_message_text(t(me.lang, "status_reserved"), reply_markup=markup)
    await s.lifecycle.start_job(job_id)


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
