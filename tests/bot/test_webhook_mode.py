"""Production mode through the real entry point: ``python -m bot`` with PUBLIC_URL serves Telegram's webhook
(secret token checked) and RunPod's, and answers through the Bot API (a loopback stand-in, as Telegram's
servers cannot be reached here)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.bot.conftest import free_port
from tests.bot.fake_telegram import BOT_ID, BOT_USERNAME
from tests.bot.waiting import eventually

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
TOKEN = "424242:webhook-mode-token"


class BotApiServer:
    """Answers the Bot API methods the bot calls at start-up and for /start."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.port = 0
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self._method, methods=["POST"])])

    async def _method(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != TOKEN:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        method = request.path_params["method"]
        form = dict(await request.form())
        self.calls.append((method, form))
        result: Any = True
        if method == "getMe":
            result = {"id": BOT_ID, "is_bot": True, "first_name": "Bot", "username": BOT_USERNAME}
        elif method == "sendMessage":
            result = {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": int(form["chat_id"]), "type": "private"},
                "text": form.get("text", ""),
            }
        return JSONResponse({"ok": True, "result": result})

    def texts(self) -> list[str]:
        return [str(form.get("text")) for method, form in self.calls if method == "sendMessage"]


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApiServer]:
    api = BotApiServer()
    server = uvicorn.Server(
        uvicorn.Config(api.app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn only exposes a flag
        await asyncio.sleep(0.01)
    api.port = server.servers[0].sockets[0].getsockname()[1]
    yield api
    server.should_exit = True
    await task


async def test_webhook_mode_end_to_end(bot_api: BotApiServer, redis_url: str, tmp_path: Path) -> None:
    tg_port, hook_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "REDIS_", "RUNPOD_", "PUBLIC_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=f"http://127.0.0.1:{bot_api.port}/bot",
        PUBLIC_URL="https://bot.example.com",
        TELEGRAM_WEBHOOK_SECRET="tg-secret",
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=str(tg_port),
        RUNPOD_WEBHOOK_SECRET="rp-secret",
        RUNPOD_WEBHOOK_LISTEN="127.0.0.1",
        RUNPOD_WEBHOOK_PORT=str(hook_port),
        REDIS_URL=redis_url,
        REDIS_PREFIX="webhook-mode:",
        RUNPOD_ENDPOINT_ID="ep",
        RUNPOD_BASE_URL="http://127.0.0.1:9/v2",  # never called by /start
        PYTHONPATH=str(REPO),  # run from an empty folder: no developer's .env is read
    )
    log_file = tmp_path / "bot.log"
    with log_file.open("w") as log:  # a file, not a pipe: a full pipe would block the bot
        proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=tmp_path, env=env, stderr=log)  # noqa: ASYNC220
    try:
        async with httpx.AsyncClient() as http:

            async def listening() -> bool:
                try:
                    await http.get(f"http://127.0.0.1:{tg_port}/")
                    return True
                except httpx.TransportError:
                    assert proc.poll() is None, log_file.read_text()
                    return False

            await eventually(listening, 60)
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 5,
                    "date": int(time.time()),
                    "chat": {"id": 777, "type": "private"},
                    "from": {"id": 777, "is_bot": False, "first_name": "A", "language_code": "en"},
                    "text": "/start",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                },
            }
            url = f"http://127.0.0.1:{tg_port}/telegram"
            forged = await http.post(url, json=update)
            assert forged.status_code == 403
            ok = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "tg-secret"})
            assert ok.status_code == 200
            await eventually(lambda: any("You have 3 credits" in t for t in bot_api.texts()), 30)
            [(_, set_webhook)] = [c for c in bot_api.calls if c[0] == "setWebhook"]
            assert set_webhook["url"] == "https://bot.example.com/telegram"
            assert set_webhook["secret_token"] == "tg-secret"
            hook = f"http://127.0.0.1:{hook_port}/runpod"
            assert (await http.post(f"{hook}/wrong/job1", json={})).status_code == 403
            assert (await http.post(f"{hook}/rp-secret/job1", json={})).status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    logged = log_file.read_text()
    assert '"msg"' in logged  # JSON lines
    assert TOKEN not in logged  # the token is never logged
