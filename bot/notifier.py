"""The tracker's voice in Telegram: one status message per job, edited at most every few seconds, then the result."""

from __future__ import annotations

import contextlib
import logging
import time

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ChatAction, FileSizeLimit
from telegram.error import BadRequest, TelegramError

from bot.jobs import JobRecord, Kind
from bot.ledger import Ledger
from bot.media import output_bytes
from bot.settings import BotSettings
from bot.texts import error_text, size_pair, t
from workflows.contract import ErrorInfo, JobOutput, OutputItem, OutputKind

log = logging.getLogger("bot.notifier")

MB = 1024 * 1024


def cancel_keyboard(job: JobRecord) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(job.lang, "cancel_button"), callback_data=f"cancel:{job.id}")]]
    )


def status_text(job: JobRecord, phase: str, position: int, percent: float | None) -> str:
    if phase == "queued":
        return t(job.lang, "status_queued", position=max(position, 1))
    if phase == "running":
        if percent is None:
            return t(job.lang, "status_running_plain")
        return t(job.lang, "status_running", percent=int(percent))
    if phase == "delivering":
        return t(job.lang, "status_delivering")
    return t(job.lang, "status_reserved")


def _pick(output: JobOutput, kind: Kind) -> OutputItem | None:
    wanted = OutputKind.IMAGE if kind is Kind.IMAGE else OutputKind.VIDEO
    return next((item for item in output.outputs if item.kind == wanted), None)


class TelegramNotifier:
    def __init__(self, bot: Bot, ledger: Ledger, settings: BotSettings) -> None:
        self.bot = bot
        self.ledger = ledger
        self.settings = settings
        self._shown: dict[str, tuple[str, float, str]] = {}  # job -> (phase, monotonic time, text)

    async def _edit(self, job: JobRecord, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
        try:
            await self.bot.edit_message_text(text, chat_id=job.chat_id, message_id=job.status_msg, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return True
            log.warning("status edit refused: %s", exc.message, extra={"job_id": job.id})
            return False
        except TelegramError as exc:
            log.warning("status edit failed: %s", exc, extra={"job_id": job.id})
            return False
        return True

    async def progress(self, job: JobRecord, phase: str, *, position: int = 0, percent: float | None = None) -> None:
        text = status_text(job, phase, position, percent)
        last = self._shown.get(job.id)
        now = time.monotonic()
        if last is not None:
            same_phase = last[0] == phase
            if last[2] == text or (same_phase and now - last[1] < self.settings.status_edit_interval_s):
                return
        self._shown[job.id] = (phase, now, text)
        markup = cancel_keyboard(job) if phase in ("queued", "running") else None
        await self._edit(job, text, markup)

    async def deliver(self, job: JobRecord, output: JobOutput) -> bool:
        item = _pick(output, job.request.kind)
        if item is None:
            return False
        if job.request.kind is Kind.IMAGE:
            return await self._send_image(job, item)
        return await self._send_video(job, item)

    async def _send_image(self, job: JobRecord, item: OutputItem) -> bool:
        await self._action(job, ChatAction.UPLOAD_PHOTO)
        data = await output_bytes(item, FileSizeLimit.FILESIZE_UPLOAD)
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(t(job.lang, "original_button"), callback_data=f"orig:{job.id}")]]
        )
        if len(data) <= FileSizeLimit.PHOTOSIZE_UPLOAD:
            try:
                await self.bot.send_photo(job.chat_id, data, caption=_caption(job), reply_markup=markup)
                return True
            except BadRequest as exc:  # e.g. dimensions Telegram won't take as a photo
                log.warning("photo refused (%s); sending the file", exc.message, extra={"job_id": job.id})
        # Over 10 MB (or refused as a photo): the file itself is the result.
        await self.bot.send_document(job.chat_id, data, filename=item.filename or "image.png", caption=_caption(job))
        return True

    async def _send_video(self, job: JobRecord, item: OutputItem) -> bool:
        if item.size > FileSizeLimit.FILESIZE_UPLOAD:
            if not item.url:
                return False
            size, limit = size_pair(job.lang, item.size, FileSizeLimit.FILESIZE_UPLOAD)
            text = t(job.lang, "video_link", size=size, limit=limit, url=item.url)
            await self.bot.send_message(job.chat_id, text)
            return True
        await self._action(job, ChatAction.UPLOAD_VIDEO)
        data = await output_bytes(item, FileSizeLimit.FILESIZE_UPLOAD)
        await self.bot.send_video(
            job.chat_id, data, filename=item.filename or "video.mp4", supports_streaming=True, caption=_caption(job)
        )
        return True

    async def _action(self, job: JobRecord, action: str) -> None:
        with contextlib.suppress(TelegramError):  # only a courtesy
            await self.bot.send_chat_action(job.chat_id, action)

    async def settled(self, job: JobRecord, *, charged: bool, error: ErrorInfo | None) -> None:
        self._shown.pop(job.id, None)
        if charged:
            balance = await self.ledger.balance(job.uid)
            await self._edit(job, t(job.lang, "status_done", cost=job.cost, balance=balance))
            return
        code = str(error.details.get("bot_code", error.code.value)) if error else "INTERNAL"
        text = error_text(job.lang, code)
        if job.cost:
            text += "\n" + t(job.lang, "refunded", cost=job.cost)
        if not await self._edit(job, text):
            await self.bot.send_message(job.chat_id, text)


def _caption(job: JobRecord) -> str | None:
    prompt = job.request.prompt if job.request.kind is Kind.IMAGE else None
    return prompt[:1000] if prompt else None
