"""Deploys and crashes of the real ``python -m bot`` process (polling mode, PTB's own run_polling and stop order),
against a loopback Bot API server and RunPod's cloud faked over HTTP, on a real Redis.

- SIGTERM while a result is uploading: the bot stops without refunding it; the next process delivers it and
  updates the status message.
- SIGKILL while uploading: the next process takes the delivery over once the dead one's step expires.
- SIGKILL after /run was sent and before its answer: the next process never sends /run again and refunds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.ledger import Ledger
from tests.bot.fake_runpod import FakeRunPod, serve_fake_runpod
from tests.bot.fake_telegram import BOT_ID, BOT_USERNAME
from tests.bot.waiting import eventually

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
TOKEN = "434343:process-restart-token"
PREFIX = "proc:"
U = 555


class BotApi:
    """Telegram's Bot API for one bot over HTTP: getUpdates serves what users 'sent'; uploads can hang."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self.upload_delay_s = 0.0
        self.uploads_started = 0
        self._ids = itertools.count(100)
        self.port = 0
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self._method, methods=["POST"])])

    async def _method(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if method == "getUpdates":
            return JSONResponse({"ok": True, "result": await self._updates(int(form.get("offset") or 0))})
        if method == "sendPhoto":
            self.uploads_started += 1
            await asyncio.sleep(self.upload_delay_s)  # the bot is cut off (SIGTERM/SIGKILL) meanwhile
        self.calls.append((method, form))
        return JSONResponse({"ok": True, "result": self._result(method, form)})

    async def _updates(self, offset: int) -> list[dict[str, Any]]:
        for _ in range(10):  # a short long-poll
            ready = [u for u in self.updates if u["update_id"] >= offset]
            if ready:
                return ready
            await asyncio.sleep(0.05)
        return []

    def _result(self, method: str, form: dict[str, Any]) -> Any:
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Bot", "username": BOT_USERNAME}
        if method in ("sendMessage", "editMessageText", "sendPhoto"):
            message: dict[str, Any] = {
                "message_id": int(form.get("message_id") or next(self._ids)),
                "date": int(time.time()),
                "chat": {"id": int(form["chat_id"]), "type": "private"},
                "text": form.get("text", ""),
            }
            if method == "sendPhoto":
                message["photo"] = [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}]
            return message
        return True

    def send(self, update: dict[str, Any]) -> None:
        self.updates.append({"update_id": len(self.updates) + 1} | update)

    def texts(self, method: str = "sendMessage") -> list[str]:
        return [str(form.get("text", "")) for m, form in self.calls if m == method]

    def buttons(self) -> list[str]:
        markups = [json.loads(form["reply_markup"]) for m, form in self.calls if "reply_markup" in form]
        return [b["callback_data"] for mk in markups for row in mk["inline_keyboard"] for b in row]

    def photos(self) -> int:
        return sum(m == "sendPhoto" for m, _ in self.calls)


def _user() -> dict[str, Any]:
    return {"id": U, "is_bot": False, "first_name": "A", "language_code": "en"}


def command(text: str) -> dict[str, Any]:
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    chat = {"id": U, "type": "private"}
    return {
        "message": {"message_id": 1, "date": int(time.time()), "chat": chat, "from": _user(), "text": text}
        | {"entities": entities}
    }


def tap(data: str, message_id: int) -> dict[str, Any]:
    msg = {"message_id": message_id, "date": int(time.time()), "chat": {"id": U, "type": "private"}, "text": "…"}
    query = {"id": str(time.monotonic_ns()), "from": _user(), "chat_instance": "1", "data": data, "message": msg}
    return {"callback_query": query}


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApi]:
    api = BotApi()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn only exposes a flag
        await asyncio.sleep(0.01)
    api.port = server.servers[0].sockets[0].getsockname()[1]
    yield api
    server.should_exit = True
    await task


@pytest.fixture
async def fake() -> AsyncIterator[FakeRunPod]:
    async with serve_fake_runpod(FakeRunPod()) as server:
        yield server


class BotProcess:
    def __init__(self, api: BotApi, fake: FakeRunPod, redis_url: str, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "REDIS_", "RUNPOD_", "PUBLIC_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_BASE_URL=f"http://127.0.0.1:{api.port}/bot",
            REDIS_URL=redis_url,
            REDIS_PREFIX=PREFIX,
            RUNPOD_ENDPOINT_ID=fake.endpoint_id,
            RUNPOD_API_KEY=fake.api_key,
            RUNPOD_BASE_URL=fake.base_url,
            POLL_MIN_S="0.1",
            POLL_MAX_S="0.2",
            QUEUE_POLL_S="0.05",
            STEP_TIMEOUT_S="3",
            STOP_GRACE_S="0.5",
            STATUS_EDIT_INTERVAL_S="0",
            PYTHONPATH=str(REPO),  # run from an empty folder: no developer's .env is read
        )
        self.log = tmp_path / f"bot-{time.monotonic_ns()}.log"
        with self.log.open("w") as log:  # a file, not a pipe: a full pipe would block the bot
            self.proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=tmp_path, env=env, stderr=log)

    def signal(self, sig: int) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the bot did not stop on {sig}:\n{self.log.read_text()[-3000:]}") from None


@pytest.fixture
async def ledger(redis_url: str) -> AsyncIterator[Ledger]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    yield Ledger(redis, PREFIX)
    await redis.aclose()


async def start_image_job(api: BotApi) -> None:
    api.send(command("/imagine a lighthouse at dusk"))
    await eventually(lambda: any(b.startswith("ar:") for b in api.buttons()), 60)
    data = next(b for b in api.buttons() if b.startswith("ar:"))
    api.send(tap(data, message_id=100))


async def test_sigterm_mid_upload_never_refunds_and_the_next_process_delivers(
    bot_api: BotApi, fake: FakeRunPod, ledger: Ledger, redis_url: str, tmp_path: Path
) -> None:
    bot_api.upload_delay_s = 60  # the upload is still going when the deploy stops the bot
    first = BotProcess(bot_api, fake, redis_url, tmp_path)
    try:
        await start_image_job(bot_api)
        await eventually(lambda: bot_api.uploads_started == 1, 60)
    finally:
        assert first.signal(signal.SIGTERM) == 0  # PTB's stop order: stop -> post_stop (the queue) -> shutdown
    [(job_id, _)] = await ledger.open_jobs()  # not refunded, not settled: handed back
    job = await ledger.job(job_id)
    assert job is not None and job["stage"] == "delivering" and await ledger.balance(U) == 2
    assert not any("refunded" in t.lower() for t in bot_api.texts("editMessageText") + bot_api.texts())
    bot_api.upload_delay_s = 0
    second = BotProcess(bot_api, fake, redis_url, tmp_path)
    try:
        await eventually(lambda: bot_api.photos() == 1, 60)
        await eventually(lambda: any(t.startswith("✅ Done") for t in bot_api.texts("editMessageText")), 30)
    finally:
        assert second.signal(signal.SIGTERM) == 0
    assert (await ledger.job(job_id) or {})["state"] == "charged" and await ledger.balance(U) == 2
    assert len(fake.runs) == 1


async def test_sigkill_mid_upload_is_taken_over_by_the_next_process(
    bot_api: BotApi, fake: FakeRunPod, ledger: Ledger, redis_url: str, tmp_path: Path
) -> None:
    bot_api.upload_delay_s = 60
    first = BotProcess(bot_api, fake, redis_url, tmp_path)
    try:
        await start_image_job(bot_api)
        await eventually(lambda: bot_api.uploads_started == 1, 60)
    finally:
        first.signal(signal.SIGKILL)  # nothing runs after this: the step's in-progress key stays until it expires
    bot_api.upload_delay_s = 0
    second = BotProcess(bot_api, fake, redis_url, tmp_path)
    try:
        await eventually(lambda: bot_api.photos() == 1, 60)
        await eventually(lambda: any(t.startswith("✅ Done") for t in bot_api.texts("editMessageText")), 30)
    finally:
        assert second.signal(signal.SIGTERM) == 0
    assert not await ledger.open_jobs() and await ledger.balance(U) == 2 and len(fake.runs) == 1


async def test_sigkill_mid_submit_never_sends_run_again(
    bot_api: BotApi, fake: FakeRunPod, ledger: Ledger, redis_url: str, tmp_path: Path
) -> None:
    fake.run_delay_s = 60  # RunPod took the job; its answer has not come back when the bot dies
    first = BotProcess(bot_api, fake, redis_url, tmp_path)
    try:
        await start_image_job(bot_api)
        await eventually(lambda: len(fake.runs) == 1, 60)
    finally:
        first.signal(signal.SIGKILL)
    fake.run_delay_s = 0
    second = BotProcess(bot_api, fake, redis_url, tmp_path)
    try:
        await eventually(lambda: _no_open(ledger), 60)
    finally:
        assert second.signal(signal.SIGTERM) == 0
    assert len(fake.runs) == 1 and not fake.duplicate_runs  # at most one RunPod job for the paid request
    assert await ledger.balance(U) == 3  # refunded: without RunPod's webhook the job could not be identified
    assert any("refunded" in t.lower() for t in bot_api.texts("editMessageText") + bot_api.texts())


async def _no_open(ledger: Ledger) -> bool:
    return not await ledger.open_jobs()
