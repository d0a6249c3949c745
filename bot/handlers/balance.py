"""/balance: credits and the last few ledger lines."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.handlers.common import caller
from bot.services import svc
from bot.texts import CATALOG, t


async def balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s = svc(context)
    me = await caller(update, context)
    lines = [t(me.lang, "balance", balance=await s.ledger.balance(me.uid))]
    recent = await s.ledger.recent(me.uid, 5)
    if recent:
        lines.append("")
        lines.append(t(me.lang, "balance_lines"))
        for entry in recent:
            when = datetime.fromtimestamp(entry.ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
            key = f"reason_{entry.reason}"
            reason = t(me.lang, key) if key in CATALOG else entry.reason
            lines.append(f"{when}  {entry.delta:+d}  {reason}  → {entry.balance}")
    assert update.effective_message is not None
    await update.effective_message.reply_text("\n".join(lines))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("balance", balance))
