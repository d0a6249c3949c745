"""The job lifecycle's voice in Telegram: one status message per job (edited at most every few seconds per chat, and
turned into the live preview while the image samples), then the result with what ran and its action buttons."""

from __future__ import annotations

import base64
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Message
from telegram.constants import ChatAction, FileSizeLimit
from telegram.error import BadRequest, TelegramError

from bot.captions import caption
from bot.job_input import UPSCALE_PRESET, VARIATION_PRESET, cost_of, offered, preset_of
from bot.jobs import JobRecord, JobRequest, Kind
from bot.ledger import Ledger
from bot.media import output_bytes
from bot.results import ResultRecord, ResultStore
from bot.settings import BotSettings
from bot.texts import error_text, size_pair, t
from workflows.contract import ErrorInfo, JobOutput, OutputItem, OutputKind

log = logging.getLogger("bot.notifier")

CHATS_REMEMBERED = 10_000
AfterSettle = Callable[[JobRecord], Awaitable[None]]


def cancel_keyboard(job: JobRecord) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(job.lang, "cancel_button"), callback_data=f"cancel:{job.id}")]]
    )


def result_keyboard(lang: str, settings: BotSettings, job_id: str, request: JobRequest) -> InlineKeyboardMarkup:
    """Re-roll and "use this seed" under every image; variations and a 2x upscale where the endpoint has them
    (an upscale is not upscaled again); the original file."""
    cost = cost_of(settings, request)
    rows = [
        [
            InlineKeyboardButton(t(lang, "btn_reroll", cost=cost), callback_data=f"rr:{job_id}"),
            InlineKeyboardButton(t(lang, "btn_seed"), callback_data=f"seed:{job_id}"),
        ]
    ]
    more = []
    if offered(VARIATION_PRESET):
        label = t(lang, "btn_variations", cost=settings.variation_cost)
        more.append(InlineKeyboardButton(label, callback_data=f"var:{job_id}"))
    if offered(UPSCALE_PRESET) and preset_of(request) != UPSCALE_PRESET:
        label = t(lang, "btn_upscale", cost=settings.upscale_cost)
        more.append(InlineKeyboardButton(label, callback_data=f"up:{job_id}"))
    if more:
        rows.append(more)
    rows.append([InlineKeyboardButton(t(lang, "original_button"), callback_data=f"orig:{job_id}")])
    return InlineKeyboardMarkup(rows)


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
        self.results = ResultStore(ledger.redis, settings.redis_prefix, settings.history_ttl_s)
        self.after_settle: AfterSettle | None = None  # starts the user's next queued request
        self._shown: dict[str, tuple[str, float, str]] = {}  # job -> (phase, monotonic time, text)
        self._chat_edit: dict[int, float] = {}  # chat -> monotonic time of its last status edit

    # The status message ------------------------------------------------------------------------------------

    async def _edit(self, job: JobRecord, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
        """Edit the status message's text (its caption once it shows a preview)."""
        self._note_edit(job.chat_id)
        try:
            if job.status_photo:
                await self.bot.edit_message_caption(
                    chat_id=job.chat_id, message_id=job.status_msg, caption=text, reply_markup=markup
                )
            else:
                await self.bot.edit_message_text(
                    text, chat_id=job.chat_id, message_id=job.status_msg, reply_markup=markup
                )
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return True
            log.warning("status edit refused: %s", exc.message, extra={"job_id": job.id})
            return False
        except TelegramError as exc:
            log.warning("status edit failed: %s", exc, extra={"job_id": job.id})
            return False
        return True

    def _note_edit(self, chat_id: int) -> None:
        now = time.monotonic()
        if len(self._chat_edit) > CHATS_REMEMBERED:  # only recent edits matter: forget the old ones
            cutoff = now - self.settings.status_edit_interval_s
            self._chat_edit = {chat: at for chat, at in self._chat_edit.items() if at >= cutoff}
        self._chat_edit[chat_id] = now

    def _chat_allows_edit(self, chat_id: int) -> bool:
        """Telegram throttles edits per chat: at most one every STATUS_EDIT_INTERVAL_S (about 3 s) for updates
        that can wait (percent, previews); phase changes always go out."""
        last = self._chat_edit.get(chat_id)
        return last is None or time.monotonic() - last >= self.settings.status_edit_interval_s

    async def progress(
        self,
        job: JobRecord,
        phase: str,
        *,
        position: int = 0,
        percent: float | None = None,
        preview: str | None = None,
    ) -> None:
        text = status_text(job, phase, position, percent)
        last = self._shown.get(job.id)
        same_phase = last is not None and last[0] == phase
        if same_phase and not self._chat_allows_edit(job.chat_id):
            return
        markup = cancel_keyboard(job) if phase in ("queued", "running") else None
        if preview and phase == "running":
            self._shown[job.id] = (phase, time.monotonic(), text)
            await self._show_preview(job, preview, text, markup)
            return
        if last is not None and last[2] == text:
            return
        self._shown[job.id] = (phase, time.monotonic(), text)
        await self._edit(job, text, markup)

    async def _show_preview(self, job: JobRecord, preview: str, text: str, markup: InlineKeyboardMarkup | None) -> None:
        """The status message becomes the preview: a text message cannot take a photo, so the first preview is
        a new photo message (the text one is deleted) and later ones replace its media."""
        try:
            image = base64.b64decode(preview, validate=True)
        except ValueError:
            log.warning("preview is not base64", extra={"job_id": job.id})
            return
        self._note_edit(job.chat_id)
        try:
            if job.status_photo:
                media = InputMediaPhoto(image, caption=text)
                await self.bot.edit_message_media(
                    media, chat_id=job.chat_id, message_id=job.status_msg, reply_markup=markup
                )
                return
            sent = await self.bot.send_photo(job.chat_id, image, caption=text, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                log.warning("preview refused: %s", exc.message, extra={"job_id": job.id})
            return
        except TelegramError as exc:
            log.warning("preview failed: %s", exc, extra={"job_id": job.id})
            return
        if not await self.ledger.update_job(job.id, status_msg=sent.message_id, status_photo="1"):
            return
        with contextlib.suppress(TelegramError):
            await self.bot.delete_message(job.chat_id, job.status_msg)

    # The result ----------------------------------------------------------------------------------------------

    async def deliver(self, job: JobRecord, output: JobOutput) -> bool:
        item = _pick(output, job.request.kind)
        if item is None:
            return False
        if job.request.kind is Kind.IMAGE:
            return await self._send_image(job, item, output)
        return await self._send_video(job, item, output)

    async def _send_image(self, job: JobRecord, item: OutputItem, output: JobOutput) -> bool:
        await self._action(job, ChatAction.UPLOAD_PHOTO)
        data = await output_bytes(item, FileSizeLimit.FILESIZE_UPLOAD)
        text = caption(job.lang, job.request, output)
        markup = result_keyboard(job.lang, self.settings, job.id, job.request)
        if len(data) <= FileSizeLimit.PHOTOSIZE_UPLOAD:
            try:
                sent = await self.bot.send_photo(job.chat_id, data, caption=text, reply_markup=markup)
                await self._remember(job, output, "photo", sent_file_id(sent))
                return True
            except BadRequest as exc:  # e.g. dimensions Telegram won't take as a photo
                log.warning("photo refused (%s); sending the file", exc.message, extra={"job_id": job.id})
        # Over 10 MB (or refused as a photo): the file itself is the result.
        sent = await self.bot.send_document(
            job.chat_id, data, filename=item.filename or "image.png", caption=text, reply_markup=markup
        )
        await self._remember(job, output, "document", sent_file_id(sent))
        return True

    async def _send_video(self, job: JobRecord, item: OutputItem, output: JobOutput) -> bool:
        text = caption(job.lang, job.request, output)
        if item.size > FileSizeLimit.FILESIZE_UPLOAD:
            if not item.url:
                return False
            size, limit = size_pair(job.lang, item.size, FileSizeLimit.FILESIZE_UPLOAD)
            link = t(job.lang, "video_link", size=size, limit=limit, url=item.url)
            await self.bot.send_message(job.chat_id, f"{text}\n\n{link}" if text else link)
            await self._remember(job, output, "link", None, url=item.url)
            return True
        await self._action(job, ChatAction.UPLOAD_VIDEO)
        data = await output_bytes(item, FileSizeLimit.FILESIZE_UPLOAD)
        sent = await self.bot.send_video(
            job.chat_id, data, filename=item.filename or "video.mp4", supports_streaming=True, caption=text
        )
        await self._remember(job, output, "video", sent_file_id(sent))
        return True

    async def _remember(
        self, job: JobRecord, output: JobOutput, media: str, file_id: str | None, url: str | None = None
    ) -> None:
        """Keep the delivered result for /history and its buttons; the user has it already, so a failure here
        is logged, never turned into a refund."""
        record = ResultRecord(
            job_id=job.id,
            uid=job.uid,
            request=job.request,
            media=media,
            file_id=file_id,
            url=url,
            params=output.params or {},
            warnings=output.warnings,
        )
        try:
            await self.results.add(record)
        except Exception:
            log.exception("could not keep the result for /history", extra={"job_id": job.id})

    async def _action(self, job: JobRecord, action: str) -> None:
        with contextlib.suppress(TelegramError):  # only a courtesy
            await self.bot.send_chat_action(job.chat_id, action)

    async def settled(self, job: JobRecord, *, charged: bool, error: ErrorInfo | None) -> None:
        self._shown.pop(job.id, None)
        job = await self._reloaded(job)  # the status message may have become a preview photo
        try:
            await self._tell_outcome(job, charged=charged, error=error)
        finally:
            if self.after_settle is not None:
                await self.after_settle(job)

    async def _reloaded(self, job: JobRecord) -> JobRecord:
        raw = await self.ledger.job(job.id)
        return JobRecord.from_hash(raw) if raw else job

    async def _tell_outcome(self, job: JobRecord, *, charged: bool, error: ErrorInfo | None) -> None:
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


def sent_file_id(message: Message) -> str | None:
    """The file id Telegram gave a photo, document or video the bot sent."""
    if message.photo:
        return message.photo[-1].file_id
    for media in (message.document, message.video):
        if media is not None:
            return media.file_id
    return None
