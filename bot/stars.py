"""Stars payments exactly once: Telegram's own record of the bot's Stars (``getStarTransactions``) is reconciled
with the ledger at start and every ``STARS_RECONCILE_INTERVAL_S``.

Telegram acknowledges a ``successful_payment`` update before the bot handles it (webhook: 200 first; polling: the
next getUpdates), so a crash in between would lose the credit; the charge still shows up here. A charge paid but not
credited is credited (idempotent by charge id, through the same ledger script as the update), a refund is reflected
once (whether it came from /refund or from Telegram itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from telegram import Bot, StarTransaction, TransactionPartnerUser
from telegram.constants import TransactionPartnerUser as PartnerType
from telegram.error import TelegramError

from bot.ledger import Ledger, to_str
from bot.texts import pick_language, t

log = logging.getLogger("bot.stars")
PAGE = 100  # the Bot API's maximum


@dataclass(frozen=True)
class PackPayload:
    """What an invoice promised (``pack:<id>:<credits>:<stars>:<uid>``), whatever the packs are today."""

    pack: str
    credits: int
    stars: int
    uid: int

    @classmethod
    def parse(cls, payload: str) -> PackPayload | None:
        parts = payload.split(":")
        if len(parts) != 5 or parts[0] != "pack" or not all(p.isdigit() for p in parts[2:]):
            return None
        pack = cls(parts[1], int(parts[2]), int(parts[3]), int(parts[4]))
        return pack if pack.credits > 0 else None


@dataclass
class Pass:
    """What one reconciliation pass did."""

    seen: int = 0
    credited: int = 0
    refunds: int = 0


async def tell_paid(bot: Bot, ledger: Ledger, uid: int, credits: int, balance: int) -> None:
    lang = (await ledger.user(uid)).get("lang") or "en"
    try:
        await bot.send_message(uid, t(lang, "paid", credits=credits, balance=balance))
    except TelegramError as exc:  # the credit stands; the thank-you is a courtesy
        log.info("payment notice not sent: %s", exc, extra={"uid": uid})


class StarsReconciler:
    def __init__(self, bot: Bot, ledger: Ledger, interval_s: float, free_credits: int) -> None:
        self.bot = bot
        self.ledger = ledger
        self.interval_s = interval_s
        self.free_credits = free_credits
        self._cursor = ledger.keys.stars_seen  # transactions already reconciled (the list only grows)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """A pass now (in the background: Telegram being slow must not hold up start-up), then periodically."""
        self._task = asyncio.create_task(self._forever(), name="stars-reconcile")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _forever(self) -> None:
        while True:
            try:
                done = await self.run_once()
                if done.credited or done.refunds:
                    log.warning(
                        "stars reconciled",
                        extra={"seen": done.seen, "credited": done.credited, "refunds": done.refunds},
                    )
            except Exception:
                log.exception("stars reconciliation failed; retrying next time")
            if self.interval_s <= 0:
                return
            await asyncio.sleep(self.interval_s)

    async def run_once(self) -> Pass:
        """Reconcile every transaction since the last pass, page by page (the cursor moves after each page)."""
        done = Pass()
        offset = int(to_str(await self.ledger.redis.get(self._cursor) or 0))
        while True:
            page = (await self.bot.get_star_transactions(offset=offset, limit=PAGE)).transactions
            for tx in page:
                await self._reconcile(tx, done)
            offset += len(page)
            done.seen += len(page)
            await self.ledger.redis.set(self._cursor, offset)
            if len(page) < PAGE:
                return done

    async def _reconcile(self, tx: StarTransaction, done: Pass) -> None:
        incoming = tx.source if isinstance(tx.source, TransactionPartnerUser) else None
        outgoing = tx.receiver if isinstance(tx.receiver, TransactionPartnerUser) else None
        if incoming is not None and incoming.transaction_type == PartnerType.INVOICE_PAYMENT:
            await self._credit(tx, incoming, done)
        elif outgoing is not None:  # Stars back to a user: a refund keeps its payment's id
            outcome = await self.ledger.payment_refunded(tx.id)
            if outcome.ok:
                done.refunds += 1
                log.warning("refund reflected in the ledger", extra={"charge": tx.id, "uid": outgoing.user.id})
            elif outcome.status == "unknown" and outgoing.transaction_type == PartnerType.INVOICE_PAYMENT:
                log.error("a refund of a charge the ledger never saw", extra={"charge": tx.id})

    async def _credit(self, tx: StarTransaction, partner: TransactionPartnerUser, done: Pass) -> None:
        pack = PackPayload.parse(partner.invoice_payload or "")
        uid = partner.user.id
        if pack is None:
            log.error("a Stars payment with a payload that is not ours", extra={"charge": tx.id, "uid": uid})
            return
        # Registered first, as the update's handler does: a user record made by the credit alone would be
        # taken for a new user by the next update (registration sets the balance).
        await self.ledger.register(uid, self.free_credits, pick_language(partner.user.language_code))
        outcome = await self.ledger.credit_payment(tx.id, uid, pack.credits, tx.amount, pack.pack)
        if not outcome.ok:
            return  # credited already (by the update, or an earlier pass)
        done.credited += 1
        log.warning("payment credited by reconciliation (its update was lost)", extra={"charge": tx.id, "uid": uid})
        await tell_paid(self.bot, self.ledger, uid, pack.credits, outcome.balance)
