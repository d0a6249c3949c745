"""/animate, then a face photo (or a photo straight away, with or without a caption), then a motion style
and 10/15/20 s as buttons. The face is checked here, before any credit is held."""

from __future__ import annotations

import asyncio
import importlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import FileSizeLimit
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.handlers import imagine
from bot.handlers import settings as user_settings
from bot.handlers.common import Caller, caller, draft_choice
from bot.handlers.launch import launch
from bot.inputs import MIN_SIDE, content_refusal, refusal_key, usable_image
from bot.job_input import VIDEO_DURATIONS, motion_prompt
from bot.jobs import JobRequest, Kind
from bot.media import telegram_file
from bot.services import Services, svc
from bot.settings import BotSettings
from bot.texts import error_text, number, size_pair, t, unit
from workflows.liveportrait import PHOTO_MAX_PIXELS, PHOTO_MIN_SIDE, resolve_style
from workflows.liveportrait import STYLES as MOTION_STYLES

log = logging.getLogger("bot.handlers.animate")
INTENT = "animate"
PROMPT_INTENTS = (imagine.INTENT, user_settings.NEGATIVE_INTENT)  # the next message must be a prompt in words
ALBUM_TTL_S = 600  # an album's messages arrive within seconds


@dataclass(frozen=True)
class PhotoPick:
    file_id: str | None
    refusal: str = ""
    values: dict[str, object] = field(default_factory=dict)


async def animate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    await svc(context).drafts.expect(me.uid, INTENT)
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(me.lang, "animate_ask"))


def _pick_photo(message: Message, limit: int, lang: str) -> PhotoPick:
    """The largest photo size we may download (under ``limit``, big enough to show a face), or an image
    document; otherwise why not, with sizes in the unit of the limit they broke."""
    stills = message.photo or (message.live_photo.photo if message.live_photo else None)  # a live photo's still
    if stills:
        sizes = sorted(stills, key=lambda p: p.width * p.height, reverse=True)
        usable = [p for p in sizes if min(p.width, p.height) >= MIN_SIDE]
        if not usable:
            px = unit(lang, "px")
            shown = f"{sizes[0].width}x{sizes[0].height} {px}"
            return PhotoPick(None, "photo_too_small", {"size": shown, "limit": f"{MIN_SIDE} {px}"})
        fitting = [p for p in usable if (p.file_size or 0) <= limit]
        if fitting:
            return PhotoPick(fitting[0].file_id)
        return _too_big(lang, usable[-1].file_size or 0, limit)
    doc = message.document
    if doc is not None and usable_image(doc):
        if (doc.file_size or 0) <= limit:
            return PhotoPick(doc.file_id)
        return _too_big(lang, doc.file_size or 0, limit)
    key, values = refusal_key(message)
    return PhotoPick(None, key, values)


def _too_big(lang: str, size: int, limit: int) -> PhotoPick:
    shown, shown_limit = size_pair(lang, size, limit)
    return PhotoPick(None, "photo_too_big", {"size": shown, "limit": shown_limit})


def _face_checker() -> Callable[[bytes], Any] | None:
    """workflows.face_check.check_face, the worker's own MediaPipe check, when this build has it."""
    try:
        module = importlib.import_module("workflows.face_check")
    except ImportError as exc:  # the bot image ships it (tests/infra/test_bot_image_imports.py): say it is off
        log.error("face pre-check unavailable, photos are checked by the worker only: %s", exc)
        return None
    checker: Callable[[bytes], Any] = module.check_face
    return checker


async def _by_content(context: ContextTypes.DEFAULT_TYPE, file_id: str, lang: str) -> PhotoPick:
    """A file that names no type (``photo`` as application/octet-stream): used when its bytes are a JPEG, PNG or
    WebP, otherwise refused for what they are (HEIC, PDF ...)."""
    try:
        data = await telegram_file(context.bot, file_id)
    except TelegramError:
        return PhotoPick(None, "input_file")
    refusal = content_refusal(data)
    return PhotoPick(file_id) if refusal is None else PhotoPick(None, refusal[0], refusal[1])


async def _face_refusal(context: ContextTypes.DEFAULT_TYPE, me: Caller, file_id: str) -> str | None:
    """Why this photo cannot be animated (no usable face), before any credit is held; None when it can."""
    checker = _face_checker()
    if checker is None:
        return None
    try:
        data = await telegram_file(context.bot, file_id)
    except TelegramError as exc:  # the worker checks the face again; a download hiccup must not refuse the photo
        log.warning("photo not downloaded for the face check: %s", exc, extra={"uid": me.uid})
        return None
    check = await asyncio.to_thread(checker, data)  # MediaPipe is CPU work: keep the event loop free
    if check.ok:
        return None
    code = getattr(check.code, "value", None) or "NO_FACE"
    log.info("photo refused before charging", extra={"uid": me.uid, "code": code, "faces": check.faces})
    details = dict(getattr(check, "details", {}))
    mislabelled = content_refusal(data) if code != "NO_FACE" and "reason" not in details else None
    if mislabelled is not None:  # a HEIC named IMG.JPG, a PDF sent as image/png: say what it really is
        return t(me.lang, mislabelled[0], **mislabelled[1])
    return t(me.lang, "face_refused", reason=_check_reason(me.lang, code, details))


def _check_reason(lang: str, code: str, details: dict[str, Any]) -> str:
    """The face check's verdict in the user's language, with sizes in the unit of the limit they broke."""
    px = unit(lang, "px")
    size = f"{details.get('width')}x{details.get('height')} {px}"
    reason = details.get("reason")
    if reason == "too_small":
        return t(lang, "photo_too_small", size=size, limit=f"{PHOTO_MIN_SIDE} {px}")
    if reason == "elongated":
        return t(lang, "photo_elongated", size=size)
    if reason == "too_many_pixels":
        megapixels = int(details.get("width") or 0) * int(details.get("height") or 0) / 1_000_000
        mp = unit(lang, "MP")
        shown, limit = (
            f"{number(lang, math.ceil(megapixels * 10) / 10)} {mp}",
            f"{number(lang, PHOTO_MAX_PIXELS / 1e6)} {mp}",
        )
        return t(lang, "photo_too_many_pixels", size=f"{size} ({shown})", limit=limit)
    if "face_px" in details:  # (pixels of the normalised photo: no number the user could act on)
        return t(lang, "face_too_small")
    return error_text(lang, "NO_FACE") if code == "NO_FACE" else t(lang, "photo_unreadable")


def keyboard(lang: str, settings: BotSettings, draft: str, prompt: str | None) -> InlineKeyboardMarkup:
    """A motion-style row (the chosen one ticked) and a duration row with prices."""
    chosen = resolve_style(prompt)[0] if prompt else ""
    styles = [
        InlineKeyboardButton(
            ("✓ " if style == chosen else "") + t(lang, f"motion_{style}"), callback_data=f"mo:{draft}:{style}"
        )
        for style in MOTION_STYLES
    ]
    durations = [
        InlineKeyboardButton(
            t(lang, "duration_button", seconds=sec, cost=settings.video_cost(sec)), callback_data=f"dur:{draft}:{sec}"
        )
        for sec in VIDEO_DURATIONS
    ]
    return InlineKeyboardMarkup([styles, durations])


async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s = svc(context)
    me = await caller(update, context)
    message = update.effective_message
    assert message is not None
    # Telegram lets bots download up to 20 MB; RunPod's /run body takes 10 MB (base64 adds a third).
    limit = min(s.settings.photo_max_bytes, FileSizeLimit.FILESIZE_DOWNLOAD)
    if not await _first_of_album(s, message, me.lang, "album_one_photo"):
        return
    pick = _pick_photo(message, limit, me.lang)
    if pick.refusal == "input_file" and message.document is not None:  # no type, no extension: read its content
        pick = await _by_content(context, message.document.file_id, me.lang)
    if pick.file_id is None:
        await message.reply_text(t(me.lang, pick.refusal, **pick.values))
        return
    refusal = await _face_refusal(context, me, pick.file_id)
    if refusal is not None:
        await message.reply_text(refusal)
        return
    await s.drafts.clear(me.uid)
    prompt = motion_prompt(message.caption)
    draft = await s.drafts.create(me.uid, JobRequest(kind=Kind.VIDEO, photo_file_id=pick.file_id, prompt=prompt))
    balance = await s.ledger.balance(me.uid)
    await message.reply_text(
        t(me.lang, "animate_pick", balance=balance), reply_markup=keyboard(me.lang, s.settings, draft, prompt)
    )


async def _first_of_album(s: Services, message: Message, lang: str, note: str | None) -> bool:
    """Whether this message is the one of its album (media group) to answer. Each item of an album arrives as its
    own message: the first one is answered, the second gets ``note`` (if any), the rest nothing (no pile of
    offers or refusals)."""
    if message.media_group_id is None:
        return True
    key = f"{s.settings.redis_prefix}album:{message.chat_id}:{message.media_group_id}"
    seen = await s.ledger.redis.incr(key)
    if seen == 1:
        await s.ledger.redis.expire(key, ALBUM_TTL_S)
    elif seen == 2 and note is not None:
        await message.reply_text(t(lang, note))
    return seen == 1


async def not_a_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    assert update.effective_message is not None
    if not await _first_of_album(svc(context), update.effective_message, me.lang, None):
        return
    if await svc(context).drafts.expected(me.uid) in PROMPT_INTENTS:  # /imagine (or ✏ negative) waits for words
        await update.effective_message.reply_text(t(me.lang, "prompt_needs_text"))
        return
    key, values = refusal_key(update.effective_message)
    await update.effective_message.reply_text(t(me.lang, key, **values))


async def style_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    s = svc(context)
    me = await caller(update, context)
    draft_id, style = draft_choice(query.data)
    request = await s.drafts.get(draft_id, me.uid)
    if request is None or style not in MOTION_STYLES:
        await query.edit_message_text(t(me.lang, "draft_expired"))
        return
    request = request.model_copy(update={"prompt": style})
    await s.drafts.update(draft_id, me.uid, request)
    await query.edit_message_reply_markup(keyboard(me.lang, s.settings, draft_id, style))


async def duration_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    s = svc(context)
    me = await caller(update, context)
    draft_id, seconds = draft_choice(query.data)
    request = await s.drafts.get(draft_id, me.uid)
    if request is None or not seconds.isdigit() or int(seconds) not in VIDEO_DURATIONS:
        await query.edit_message_text(t(me.lang, "draft_expired"))
        return
    duration = int(seconds)
    request = request.model_copy(update={"duration_s": duration})
    await launch(query, context, me, draft_id, request, s.settings.video_cost(duration))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("animate", animate))
    # Documents of every type come here too: an image file is used, anything else gets its specific reason.
    app.add_handler(MessageHandler(filters.PHOTO | filters.LIVE_PHOTO | filters.Document.ALL, photo))
    # Every other kind of content a user can send (video notes, stickers, contacts, polls, dice, stories ...) gets
    # its own reason; a payment is content too, but its handler comes later.
    app.add_handler(MessageHandler((filters.ATTACHMENT | filters.CHECKLIST) & ~filters.SUCCESSFUL_PAYMENT, not_a_photo))
    app.add_handler(CallbackQueryHandler(style_chosen, pattern=r"^mo:"))
    app.add_handler(CallbackQueryHandler(duration_chosen, pattern=r"^dur:"))
