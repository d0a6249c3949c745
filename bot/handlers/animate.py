"""/animate, then a face photo (or a photo straight away, with or without a caption), then 10/15/20 s."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import FileSizeLimit
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.handlers.common import caller, draft_choice
from bot.handlers.launch import launch
from bot.job_input import VIDEO_DURATIONS, motion_prompt
from bot.jobs import JobRequest, Kind
from bot.services import svc
from bot.texts import t

INTENT = "animate"
MB = 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
MIN_SIDE = 256  # smaller sizes are thumbnails: too few pixels for a face


async def animate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    await svc(context).drafts.expect(me.uid, INTENT)
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(me.lang, "animate_ask"))


def _photo_file(message: Message, limit: int) -> tuple[str | None, int]:
    """The largest photo size we may download (under ``limit``, big enough to show a face), or an image
    document; with its size in bytes. (None, size) when the only candidates are over the limit."""
    if message.photo:
        sizes = sorted(message.photo, key=lambda p: p.width * p.height, reverse=True)
        usable = [p for p in sizes if min(p.width, p.height) >= MIN_SIDE]
        fitting = [p for p in usable if (p.file_size or 0) <= limit]
        if fitting:
            return fitting[0].file_id, fitting[0].file_size or 0
        return None, (usable[-1].file_size or 0) if usable else 0
    doc = message.document
    if doc is not None and (doc.mime_type or "") in IMAGE_TYPES:
        if (doc.file_size or 0) <= limit:
            return doc.file_id, doc.file_size or 0
        return None, doc.file_size or 0
    return None, 0


async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s = svc(context)
    me = await caller(update, context)
    message = update.effective_message
    assert message is not None
    # Telegram lets bots download up to 20 MB; RunPod's /run body takes 10 MB (base64 adds a third).
    limit = min(s.settings.photo_max_bytes, FileSizeLimit.FILESIZE_DOWNLOAD)
    file_id, size = _photo_file(message, limit)
    if file_id is None and size > limit:
        await message.reply_text(t(me.lang, "photo_too_big", size=round(size / MB, 1), limit=limit // MB))
        return
    if file_id is None:
        await message.reply_text(t(me.lang, "not_a_photo"))
        return
    await s.drafts.clear(me.uid)
    draft = await s.drafts.create(
        me.uid, JobRequest(kind=Kind.VIDEO, photo_file_id=file_id, prompt=motion_prompt(message.caption))
    )
    buttons = [
        InlineKeyboardButton(
            t(me.lang, "duration_button", seconds=sec, cost=s.settings.video_cost(sec)),
            callback_data=f"dur:{draft}:{sec}",
        )
        for sec in VIDEO_DURATIONS
    ]
    balance = await s.ledger.balance(me.uid)
    await message.reply_text(t(me.lang, "animate_pick", balance=balance), reply_markup=InlineKeyboardMarkup([buttons]))


async def not_a_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(me.lang, "not_a_photo"))


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
    app.add_handler(MessageHandler(filters.PHOTO | filters.Document.IMAGE, photo))
    app.add_handler(
        MessageHandler(
            filters.Document.ALL | filters.VIDEO | filters.Sticker.ALL | filters.ANIMATION | filters.VOICE, not_a_photo
        )
    )
    app.add_handler(CallbackQueryHandler(duration_chosen, pattern=r"^dur:"))
