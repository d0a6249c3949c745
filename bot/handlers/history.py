"""/history: the user's last 20 results; 📤 sends one again from Telegram's copy (no GPU work, no charge),
🔁 re-rolls it (a new job at its price, through the result buttons' handler)."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.captions import caption
from bot.handlers.actions import result_store
from bot.handlers.common import caller
from bot.jobs import Kind
from bot.notifier import result_keyboard
from bot.results import ResultRecord
from bot.services import svc
from bot.texts import t
from workflows.contract import JobOutput, Timings

PROMPT_SHOWN = 60


def _line(lang: str, n: int, record: ResultRecord) -> str:
    when = datetime.fromtimestamp(record.ts_ms / 1000, tz=UTC).strftime("%m-%d %H:%M")
    req = record.request
    if req.kind is Kind.IMAGE:
        what = f"«{(req.prompt or '')[:PROMPT_SHOWN]}»"
        if record.seed is not None:
            what += " · " + t(lang, "caption_seed", seed=record.seed)
    else:
        what = t(lang, "history_video", duration=record.params.get("duration", req.duration_s))
    return f"{n}. {when} · {what}"


async def history(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s = svc(context)
    me = await caller(update, context)
    records = await result_store(s).recent(me.uid)
    assert update.effective_message is not None
    if not records:
        await update.effective_message.reply_text(t(me.lang, "history_empty"))
        return
    lines = [t(me.lang, "history_title", count=len(records)), ""]
    lines += [_line(me.lang, n, r) for n, r in enumerate(records, 1)]
    rows = [
        [
            InlineKeyboardButton(f"📤 {n}", callback_data=f"hs:{r.job_id}"),
            InlineKeyboardButton(f"🔁 {n}", callback_data=f"rr:{r.job_id}"),
        ]
        for n, r in enumerate(records, 1)
    ]
    await update.effective_message.reply_text("\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


async def resend(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send a kept result again by the file id Telegram gave it: nothing is generated, nothing is charged."""
    query = update.callback_query
    assert query is not None and query.data is not None
    s = svc(context)
    me = await caller(update, context)
    record = await result_store(s).get(query.data.partition(":")[2], me.uid)
    if record is None or (record.file_id is None and record.url is None):
        await query.answer(t(me.lang, "result_gone"), show_alert=True)
        return
    await query.answer()
    output = JobOutput(outputs=[], timings=Timings(), params=record.params, warnings=record.warnings)
    text = caption(me.lang, record.request, output)
    if record.media == "link" or record.file_id is None:
        await context.bot.send_message(me.chat_id, f"{text}\n\n{record.url}" if text else str(record.url))
        return
    if record.media == "video":
        await context.bot.send_video(me.chat_id, record.file_id, caption=text)
        return
    markup = result_keyboard(me.lang, s.settings, record.job_id, record.request)
    if record.media == "document":
        await context.bot.send_document(me.chat_id, record.file_id, caption=text, reply_markup=markup)
    else:
        await context.bot.send_photo(me.chat_id, record.file_id, caption=text, reply_markup=markup)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("history", history))
    app.add_handler(CallbackQueryHandler(resend, pattern=r"^hs:"))
