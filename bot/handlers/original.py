"""The "Original PNG" button under a delivered image: the uncompressed file as a document."""

from __future__ import annotations

from telegram import Update
from telegram.constants import FileSizeLimit
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.handlers.common import caller, own_job
from bot.media import output_bytes
from bot.services import svc
from bot.texts import t
from workflows.contract import OutputKind


async def original(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    s = svc(context)
    me = await caller(update, context)
    job_id = await own_job(context, query.data, me.uid)
    output = await s.lifecycle.stored_output(job_id) if job_id else None
    item = next((i for i in output.outputs if i.kind == OutputKind.IMAGE), None) if output else None
    if item is None:
        await query.answer(t(me.lang, "original_gone"), show_alert=True)
        return
    await query.answer()
    data = await output_bytes(item, FileSizeLimit.FILESIZE_UPLOAD)
    await context.bot.send_document(me.chat_id, data, filename=item.filename or "image.png")


def register(app: Application) -> None:  # type: ignore[type-arg]
    # Not blocking: fetching the file from S3 must not hold up other updates (pre-checkout has 10 s).
    app.add_handler(CallbackQueryHandler(original, pattern=r"^orig:", block=False))
