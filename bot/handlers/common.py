"""Helpers every handler uses: who is talking, in which language, and a reply that never raises on trivia."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.ext import ContextTypes

from bot import blocking
from bot.services import svc
from bot.texts import pick_language


@dataclass(frozen=True)
class Caller:
    uid: int
    chat_id: int
    lang: str
    new: bool


async def caller(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Caller:
    """Register the user on first contact (free credits once) and read their language."""
    s = svc(context)
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None
    lang = pick_language(user.language_code)
    new = await s.ledger.register(user.id, s.settings.free_credits, lang)
    fields = await s.ledger.user(user.id)
    if fields.get(blocking.FIELD) == "1":  # writing to the bot again: it is not blocked any more
        await blocking.unblocked(s.ledger, user.id)
    stored = fields.get("lang") or lang
    return Caller(uid=user.id, chat_id=chat.id if chat else user.id, lang=stored, new=new)


def command_args(update: Update) -> str:
    """The text after a command (``/imagine a red fox`` -> ``a red fox``)."""
    text = update.effective_message.text if update.effective_message else None
    if not text:
        return ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def draft_choice(data: str) -> tuple[str, str]:
    """(draft id, choice) from a keyboard's ``<kind>:<draft>:<choice>`` data; empty strings when forged or cut.

    Callback data comes from the client and can be anything: an empty draft id simply finds no draft.
    """
    parts = data.split(":", 2)
    return (parts[1], parts[2]) if len(parts) == 3 else ("", "")


async def own_job(context: ContextTypes.DEFAULT_TYPE, data: str, uid: int) -> str | None:
    """The job named by ``<kind>:<job id>`` button data, only when it is the caller's own (else None)."""
    job_id = data.split(":", 1)[1] if ":" in data else ""
    job = await svc(context).ledger.job(job_id) if job_id else None
    return job_id if job is not None and job.get("uid") == str(uid) else None
