"""The buttons under a result (re-roll, variations, upscale 2x, use this seed), Continue after buying, and
cancelling a request queued behind a running job. Each paid action is a new job at its own price."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.handlers import imagine
from bot.handlers.common import Caller, caller
from bot.handlers.launch import buy_keyboard, kept_requests, start
from bot.job_input import UPSCALE_PRESET, VARIATION_PRESET, cost_of, offered
from bot.jobs import JobRequest, Kind, new_job_id
from bot.requests import KeptRequest
from bot.results import ResultRecord, ResultStore
from bot.services import Services, svc
from bot.texts import t

log = logging.getLogger("bot.handlers.actions")
TAP_WINDOW_S = 3  # a second tap on the same button within this is a double tap, not a second order


def result_store(s: Services) -> ResultStore:
    return ResultStore(s.ledger.redis, s.settings.redis_prefix, s.settings.history_ttl_s)


def derived_request(action: str, record: ResultRecord) -> JobRequest | None:
    """What a button asks for, from the result it is under; None when this endpoint cannot do it."""
    source = record.request
    if action == "rr":  # same prompt and settings (and source, for a variation), a new seed
        return source.model_copy(update={"seed": None})
    if source.kind is not Kind.IMAGE:
        return None
    preset = {"var": VARIATION_PRESET, "up": UPSCALE_PRESET}.get(action)
    if preset is None or not offered(preset):
        return None
    # A variation explores (new seed); an upscale keeps the seed that made the picture.
    seed = record.seed if preset == UPSCALE_PRESET else None
    return source.model_copy(
        update={"preset": preset, "seed": seed, "source_job": record.job_id, "source_file_id": record.file_id}
    )


async def _first_tap(s: Services, uid: int, data: str) -> bool:
    key = s.ledger.keys.tap(uid, data)
    return bool(await s.ledger.redis.set(key, "1", nx=True, ex=TAP_WINDOW_S))


async def result_action(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    s = svc(context)
    me = await caller(update, context)
    action, _, job_id = query.data.partition(":")
    record = await result_store(s).get(job_id, me.uid)
    if record is None:
        await query.answer(t(me.lang, "result_gone"), show_alert=True)
        return
    if action == "seed":
        await query.answer()
        await _use_seed(context, s, me, record)
        return
    request = derived_request(action, record)
    if request is None:
        await query.answer(t(me.lang, "result_gone"), show_alert=True)
        return
    if not await _first_tap(s, me.uid, query.data):
        await query.answer()
        return
    await query.answer(t(me.lang, "action_started"))
    job_id = new_job_id()
    reply_to = query.message.message_id if query.message is not None else None
    cancel = InlineKeyboardButton(t(me.lang, "cancel_button"), callback_data=f"cancel:{job_id}")
    status = await context.bot.send_message(
        me.chat_id,
        t(me.lang, "status_reserved"),
        reply_to_message_id=reply_to,
        reply_markup=InlineKeyboardMarkup([[cancel]]),
    )
    kept = KeptRequest(
        job_id=job_id,
        uid=me.uid,
        chat_id=me.chat_id,
        lang=me.lang,
        request=request,
        cost=cost_of(s.settings, request),
        status_msg=status.message_id,
    )
    await start(s, context.bot, kept, shown=True)


async def _use_seed(context: ContextTypes.DEFAULT_TYPE, s: Services, me: Caller, record: ResultRecord) -> None:
    """The next prompt is drawn with this result's seed and settings."""
    seed = record.seed
    if seed is None or record.request.kind is not Kind.IMAGE:
        await context.bot.send_message(me.chat_id, t(me.lang, "result_gone"))
        return
    template = record.request.model_copy(
        update={"seed": seed, "prompt": None, "preset": None, "source_job": None, "source_file_id": None}
    )
    await s.drafts.expect(me.uid, imagine.INTENT)
    await s.drafts.set_template(me.uid, template)
    await context.bot.send_message(me.chat_id, t(me.lang, "seed_ask", seed=seed))


async def continue_request(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """▶ Continue: run the request that was refused for credits (under its own job id: a second tap is a no-op)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    s = svc(context)
    me = await caller(update, context)
    kept = await kept_requests(s).pending(me.uid)
    if kept is None or kept.job_id != query.data.partition(":")[2]:
        await context.bot.send_message(me.chat_id, t(me.lang, "draft_expired"))
        return
    await start(s, context.bot, kept)


async def offer_pending(context: ContextTypes.DEFAULT_TYPE, uid: int, lang: str) -> None:
    """After a purchase: the request that was waiting for credits, one tap away."""
    s = svc(context)
    kept = await kept_requests(s).pending(uid)
    if kept is None:
        return
    text = t(lang, "continue_offer", cost=kept.cost)
    row = buy_keyboard(lang, kept.job_id).inline_keyboard[0][1:]  # only ▶ Continue
    await context.bot.send_message(kept.chat_id, text, reply_markup=InlineKeyboardMarkup([row]))


async def cancel_queued(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    s = svc(context)
    me = await caller(update, context)
    removed = await kept_requests(s).remove(me.uid, query.data.partition(":")[2])
    await query.answer(t(me.lang, "cancel_requested" if removed else "cancel_none"))
    if removed is not None:
        await query.edit_message_text(t(me.lang, "err_CANCELLED"))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CallbackQueryHandler(result_action, pattern=r"^(rr|var|up|seed):"))
    app.add_handler(CallbackQueryHandler(continue_request, pattern=r"^go:"))
    app.add_handler(CallbackQueryHandler(cancel_queued, pattern=r"^uqx:"))
