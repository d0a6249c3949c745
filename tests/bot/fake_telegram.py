"""A recording stand-in for Telegram's Bot API at PTB's request layer: no network, real Bot API JSON.

PTB sends every call through a ``BaseRequest``; this one answers like api.telegram.org would (message objects,
``ok: false`` errors with their HTTP codes, file downloads) and records what the bot sent. Tests inject
errors (429 with retry_after, "message is not modified", "file too big") per method.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

BOT_ID = 999000
BOT_USERNAME = "credits_test_bot"
UPLOADS = frozenset({"sendPhoto", "sendDocument", "sendVideo"})


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)
    message_id: int = 0  # of the message this call created or edited
    at: float = field(default_factory=time.monotonic)  # when the fake received it (ordering across chats)
    result: Any = None  # what Telegram answered (the sent message, with its file ids)

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@dataclass(frozen=True)
class _Error:
    """A Bot API refusal the fake decides by itself (not injected), e.g. refunding an unknown charge."""

    code: int
    text: str


class FakeTelegram(BaseRequest):
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.files: dict[str, bytes] = {}  # file_id -> content users "uploaded"
        self.errors: dict[str, list[tuple[int, str, dict[str, Any], int | None]]] = {}
        self._ids = itertools.count(1000)
        self.upload_delay_s = 0.0  # how long sending a photo/document/video takes (a crash can land mid-upload)
        # Telegram's record of Stars: what getStarTransactions serves (chronological, as documented).
        self.star_transactions: list[dict[str, Any]] = []
        self._answered: set[str] = set()  # callback query ids

    # BaseRequest --------------------------------------------------------------------------------------------

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:  # a download of a file a user sent
            file_path = url.rsplit("/", 1)[-1]
            return 200, self.files[file_path]
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files = dict(request_data.multipart_data) if request_data and request_data.contains_files else {}
        call = Call(api_method, params, {k: (v[0], v[1], v[2]) for k, v in files.items()})  # type: ignore[misc]
        queued = self.errors.get(api_method, [])
        match = next((e for e in queued if e[3] is None or e[3] == int(params.get("chat_id", 0))), None)
        if match is not None:
            queued.remove(match)
            code, description, parameters, _ = match
            self.calls.append(Call(api_method + "!failed", params))
            body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
            if parameters:
                body["parameters"] = parameters
            return code, json.dumps(body).encode()
        if self.upload_delay_s and api_method in UPLOADS:
            await asyncio.sleep(self.upload_delay_s)  # cancelled here (a stop, a crash), nothing was delivered
        result = self._result(api_method, params)
        call.result = result
        if isinstance(result, _Error):
            self.calls.append(Call(api_method + "!failed", params))
            return result.code, json.dumps(
                {"ok": False, "error_code": result.code, "description": result.text}
            ).encode()
        self.calls.append(call)
        if isinstance(result, dict) and "message_id" in result:
            call.message_id = result["message_id"]
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # Error injection ---------------------------------------------------------------------------------------

    def fail(self, method: str, code: int, description: str, chat_id: int | None = None, **parameters: Any) -> None:
        """Answer the next ``method`` call (to ``chat_id``, if given) with this Bot API error."""
        self.errors.setdefault(method, []).append((code, description, parameters, chat_id))

    def flood(self, method: str, retry_after: int = 1) -> None:
        self.fail(method, 429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    # Answers -----------------------------------------------------------------------------------------------

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params.get("chat_id", 0))
        msg: dict[str, Any] = {
            "message_id": int(params.get("message_id", next(self._ids))),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bot", "username": BOT_USERNAME},
        }
        if "text" in params:
            msg["text"] = params["text"]
        if "caption" in params:
            msg["caption"] = params["caption"]
        return msg | extra

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Bot",
                "username": BOT_USERNAME,
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method in ("sendMessage", "editMessageText", "sendInvoice", "editMessageCaption", "editMessageMedia"):
            return self._message(params)
        if method == "sendPhoto":
            # The first photo keeps the id older tests know; each later one gets its own, as Telegram's do.
            count = len(self.sent("sendPhoto")) + 1  # this one included (recorded once answered)
            file_id = "ph-out" if count == 1 else f"ph-out-{count}"
            size = {"file_id": file_id, "file_unique_id": file_id, "width": 1, "height": 1}
            return self._message(params, photo=[size])
        if method == "sendDocument":
            return self._message(params, document={"file_id": "doc-out", "file_unique_id": "u2"})
        if method == "sendVideo":
            video = {"file_id": "vid-out", "file_unique_id": "u3", "width": 1, "height": 1, "duration": 10}
            return self._message(params, video=video)
        if method == "answerCallbackQuery":
            query_id = str(params["callback_query_id"])
            if query_id in self._answered:  # Telegram takes one answer per query
                return _Error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
            self._answered.add(query_id)
            return True
        if method == "getStarTransactions":
            offset = int(params.get("offset") or 0)
            limit = int(params.get("limit") or 100)
            return {"transactions": self.star_transactions[offset : offset + limit]}
        if method == "refundStarPayment":
            return self._refund(int(params["user_id"]), str(params["telegram_payment_charge_id"]))
        if method == "getFile":
            file_id = str(params["file_id"])
            return {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "file_size": len(self.files.get(file_id, b"")),
                "file_path": file_id,
            }
        return True  # answerCallbackQuery, answerPreCheckoutQuery, sendChatAction, setMyCommands, refundStarPayment...

    # Stars ------------------------------------------------------------------------------------------------

    def star_payment(self, uid: int, payload: str, amount: int, charge_id: str) -> dict[str, Any]:
        """Telegram took ``amount`` Stars from ``uid`` (what a successful payment leaves in the bot's history)."""
        user = {"id": uid, "is_bot": False, "first_name": f"U{uid}"}
        partner = {"type": "user", "transaction_type": "invoice_payment", "user": user, "invoice_payload": payload}
        tx = {"id": charge_id, "amount": amount, "date": int(time.time()), "source": partner}
        self.star_transactions.append(tx)
        return tx

    def _refund(self, uid: int, charge_id: str) -> Any:
        paid = [tx for tx in self.star_transactions if tx["id"] == charge_id and "source" in tx]
        if not paid or paid[0]["source"]["user"]["id"] != uid:
            return _Error(400, "Bad Request: CHARGE_NOT_FOUND")
        if any(tx["id"] == charge_id and "receiver" in tx for tx in self.star_transactions):
            return _Error(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
        self.star_refund(charge_id)
        return True

    def star_refund(self, charge_id: str) -> None:
        """The payment's Stars went back to the user (a refund transaction with the user as receiver)."""
        [paid] = [tx for tx in self.star_transactions if tx["id"] == charge_id and "source" in tx]
        receiver = {"type": "user", "transaction_type": "invoice_payment", "user": paid["source"]["user"]}
        receiver["invoice_payload"] = paid["source"]["invoice_payload"]
        self.star_transactions.append(
            {"id": charge_id, "amount": paid["amount"], "date": int(time.time()), "receiver": receiver}
        )

    # What the bot sent -------------------------------------------------------------------------------------

    def sent(self, *methods: str, chat_id: int | None = None) -> list[Call]:
        return [
            c for c in self.calls if c.method in methods and (chat_id is None or int(c.get("chat_id", 0)) == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [str(c.get("text")) for c in self.sent("sendMessage", "editMessageText", chat_id=chat_id)]

    def last_text(self, chat_id: int | None = None) -> str:
        texts = self.texts(chat_id)
        return texts[-1] if texts else ""

    def buttons(self, call: Call) -> list[tuple[str, str]]:
        markup = call.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if not markup:
            return []
        return [(b["text"], b.get("callback_data", "")) for row in markup["inline_keyboard"] for b in row]

    def last_buttons(self, chat_id: int | None = None) -> list[tuple[str, str]]:
        for call in reversed(self.sent("sendMessage", "editMessageText", chat_id=chat_id)):
            if call.get("reply_markup"):
                return self.buttons(call)
        return []

    def reset(self) -> None:
        self.calls.clear()


class Users:
    """Builds the updates Telegram would deliver for a user's actions, and feeds them to the Application."""

    def __init__(self, app: Application, telegram: FakeTelegram) -> None:  # type: ignore[type-arg]
        self.app = app
        self.telegram = telegram
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        # False: each update is handled before feed() returns (deterministic); True: it is queued like the
        # updater's, and handled concurrently with others (the real path).
        self.through_queue = False

    def _user(self, uid: int, lang: str) -> dict[str, Any]:
        return {"id": uid, "is_bot": False, "first_name": f"U{uid}", "language_code": lang}

    def _base_message(self, uid: int, lang: str) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": uid, "type": "private"},
            "from": self._user(uid, lang),
        }

    async def feed(self, data: dict[str, Any]) -> None:
        data = {"update_id": next(self._update_ids)} | data
        update = Update.de_json(data, self.app.bot)
        if self.through_queue:
            await self.app.update_queue.put(update)  # as the updater delivers: the update processor decides
        else:
            await self.app.process_update(update)

    async def send(self, uid: int, text: str, lang: str = "en", reply_to: Call | None = None) -> None:
        """A text message; ``reply_to``: the bot's message (a recorded call) it answers, as Telegram quotes it."""
        msg = self._base_message(uid, lang) | {"text": text}
        if reply_to is not None:
            msg["reply_to_message"] = self.telegram._message(reply_to.params) | {"message_id": reply_to.message_id}
        if text.startswith("/"):
            command = text.split()[0]
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        await self.feed({"message": msg})

    async def send_photo(
        self,
        uid: int,
        content: bytes,
        *,
        caption: str | None = None,
        size: int | None = None,
        medium_size: int | None = None,
        lang: str = "en",
    ) -> None:
        small, medium, large = f"ph-{uid}-s", f"ph-{uid}-m", f"ph-{uid}-l"
        self.telegram.files[small] = content[:10]
        self.telegram.files[medium] = content + b"medium"  # still a decodable JPEG (bytes after its end marker)
        self.telegram.files[large] = content
        photo = [
            {"file_id": small, "file_unique_id": small, "width": 90, "height": 90, "file_size": 10},
            {
                "file_id": medium,
                "file_unique_id": medium,
                "width": 640,
                "height": 640,
                "file_size": medium_size if medium_size is not None else len(content) + 7,
            },
            {
                "file_id": large,
                "file_unique_id": large,
                "width": 1280,
                "height": 1280,
                "file_size": size if size is not None else len(content),
            },
        ]
        msg = self._base_message(uid, lang) | {"photo": photo}
        if caption:
            msg["caption"] = caption
        await self.feed({"message": msg})

    async def send_raw(self, uid: int, lang: str = "en", **fields: Any) -> None:
        """A message with these Bot API fields (video_note, animation, sticker ...)."""
        await self.feed({"message": self._base_message(uid, lang) | fields})

    async def send_document(self, uid: int, mime: str, size: int, lang: str = "en") -> None:
        doc = {
            "file_id": f"doc-{uid}",
            "file_unique_id": f"doc-{uid}",
            "file_name": "x",
            "mime_type": mime,
            "file_size": size,
        }
        await self.feed({"message": self._base_message(uid, lang) | {"document": doc}})

    async def tap(self, uid: int, data: str, message_id: int | None = None, lang: str = "en") -> None:
        """Press an inline button on the bot's message ``message_id`` (default: the last one with buttons)."""
        if message_id is None:
            try:
                message_id = self.last_keyboard_message(uid)
            except AssertionError:  # a button the user never saw (forged or someone else's)
                message_id = 1
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": uid, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bot"},
            "text": "...",
        }
        query = {
            "id": uuid.uuid4().hex,  # unique across bots sharing this fake, as Telegram's are
            "from": self._user(uid, lang),
            "chat_instance": str(uid),
            "data": data,
            "message": message,
        }
        await self.feed({"callback_query": query})

    def last_keyboard_message(self, uid: int) -> int:
        for call in reversed(self.telegram.sent("sendMessage", "editMessageText", chat_id=uid)):
            if call.get("reply_markup"):
                return call.message_id
        raise AssertionError("no message with buttons")

    async def pre_checkout(self, uid: int, payload: str, amount: int, currency: str = "XTR") -> None:
        query = {
            "id": f"pcq-{next(self._update_ids)}",
            "from": self._user(uid, "en"),
            "currency": currency,
            "total_amount": amount,
            "invoice_payload": payload,
        }
        await self.feed({"pre_checkout_query": query})

    async def paid(self, uid: int, payload: str, amount: int, charge_id: str) -> None:
        payment = {
            "currency": "XTR",
            "total_amount": amount,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        if not any(tx["id"] == charge_id for tx in self.telegram.star_transactions):  # a redelivery is one charge
            self.telegram.star_payment(uid, payload, amount, charge_id)
        await self.feed({"message": self._base_message(uid, "en") | {"successful_payment": payment}})

    async def member(self, uid: int, status: str) -> None:
        """The user blocked (``kicked``) or unblocked (``member``) the bot: Telegram's my_chat_member update."""
        bot = {"id": BOT_ID, "is_bot": True, "first_name": "Bot", "username": BOT_USERNAME}
        old = "member" if status == "kicked" else "kicked"
        change = {
            "chat": {"id": uid, "type": "private"},
            "from": self._user(uid, "en"),
            "date": int(time.time()),
            "old_chat_member": {"status": old, "user": bot} | ({"until_date": 0} if old == "kicked" else {}),
            "new_chat_member": {"status": status, "user": bot} | ({"until_date": 0} if status == "kicked" else {}),
        }
        await self.feed({"my_chat_member": change})
