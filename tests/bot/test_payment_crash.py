"""A paid charge survives the real ``python -m bot`` being killed between Telegram's acknowledgement of the
``successful_payment`` update and the credit: after the restart it is credited, once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.bot.conftest import free_port
from tests.bot.test_webhook_mode import TOKEN, BotApiServer
from tests.bot.waiting import eventually
from tests.reliability.redis_process import RedisProcess

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
U = 9001
PAYLOAD = f"pack:s:10:50:{U}"
CHARGE = "stxCrashBetweenAckAndCredit"


class StarsBotApi(BotApiServer):
    """The loopback Bot API stand-in, with the bot's Stars history (what getStarTransactions serves)."""

    def __init__(self) -> None:
        super().__init__()
        self.transactions: list[dict[str, Any]] = []

    def reads(self) -> int:
        return len([m for m, _ in self.calls if m == "getStarTransactions"])

    async def _method(self, request: Request) -> JSONResponse:
        if request.path_params["method"] == "getStarTransactions":
            self.calls.append(("getStarTransactions", dict(await request.form())))
            return JSONResponse({"ok": True, "result": {"transactions": self.transactions}})
        return await super()._method(request)


@pytest.fixture
def redis_proc(tmp_path: Path) -> Iterator[RedisProcess]:
    proc = RedisProcess(tmp_path / "redis")
    proc.workdir.mkdir()
    proc.start()
    yield proc
    if proc.proc is not None:
        proc.proc.send_signal(signal.SIGCONT)
    proc.stop()


@pytest.fixture
async def stars_api() -> AsyncIterator[StarsBotApi]:
    api = StarsBotApi()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn only exposes a flag
        await asyncio.sleep(0.01)
    api.port = server.servers[0].sockets[0].getsockname()[1]
    yield api
    server.should_exit = True
    await task


def start_bot(api: BotApiServer, redis_url: str, tg_port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "REDIS_", "RUNPOD_", "PUBLIC_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=f"http://127.0.0.1:{api.port}/bot",
        PUBLIC_URL="https://bot.example.com",
        TELEGRAM_WEBHOOK_SECRET="tg-secret",
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=str(tg_port),
        REDIS_URL=redis_url,
        REDIS_PREFIX="crash:",
        RUNPOD_ENDPOINT_ID="ep",
        RUNPOD_BASE_URL="http://127.0.0.1:9/v2",  # no job runs here
        STARS_RECONCILE_INTERVAL_S="0",  # at start only
        PYTHONPATH=str(REPO),
    )
    with (workdir / "bot.log").open("a") as log:
        return subprocess.Popen([sys.executable, "-m", "bot"], cwd=workdir, env=env, stderr=log)


async def wait_listening(http: httpx.AsyncClient, port: int, proc: subprocess.Popen[bytes]) -> None:
    async def listening() -> bool:
        try:
            await http.get(f"http://127.0.0.1:{port}/")
            return True
        except httpx.TransportError:
            assert proc.poll() is None, "the bot exited"
            return False

    await eventually(listening, 60)


def payment_update() -> dict[str, Any]:
    payment = {
        "currency": "XTR",
        "total_amount": 50,
        "invoice_payload": PAYLOAD,
        "telegram_payment_charge_id": CHARGE,
        "provider_payment_charge_id": "",
    }
    user = {"id": U, "is_bot": False, "first_name": "P", "language_code": "en"}
    message = {"message_id": 9, "date": int(time.time()), "chat": {"id": U, "type": "private"}, "from": user}
    return {"update_id": 77, "message": message | {"successful_payment": payment}}


def star_transaction() -> dict[str, Any]:
    user = {"id": U, "is_bot": False, "first_name": "P"}
    partner = {"type": "user", "transaction_type": "invoice_payment", "user": user, "invoice_payload": PAYLOAD}
    return {"id": CHARGE, "amount": 50, "date": int(time.time()), "source": partner}


async def test_killed_between_acknowledgement_and_credit(
    stars_api: StarsBotApi, redis_proc: RedisProcess, tmp_path: Path
) -> None:
    port = free_port()
    async with httpx.AsyncClient() as http:
        bot = start_bot(stars_api, redis_proc.url, port, tmp_path)
        try:
            await wait_listening(http, port, bot)
            await eventually(lambda: stars_api.reads() == 1, 30)  # the pass at start is done
            # Redis freezes; Telegram's update is taken (200) and its handler hangs before the credit...
            assert redis_proc.proc is not None
            redis_proc.proc.send_signal(signal.SIGSTOP)
            url = f"http://127.0.0.1:{port}/telegram"
            headers = {"X-Telegram-Bot-Api-Secret-Token": "tg-secret"}
            assert (await http.post(url, json=payment_update(), headers=headers)).status_code == 200
            stars_api.transactions.append(star_transaction())  # ...while Telegram has the charge on record
        finally:
            bot.kill()  # ...and the process dies: Telegram will not send that update again
            bot.wait()
        redis_proc.proc.send_signal(signal.SIGCONT)
        redis = Redis.from_url(redis_proc.url)
        try:
            assert await redis.hget(f"crash:user:{U}", "bal") is None  # nothing was credited
            for _ in range(2):  # the restart credits it; the one after changes nothing
                reads = stars_api.reads()
                bot = start_bot(stars_api, redis_proc.url, port, tmp_path)
                try:
                    await wait_listening(http, port, bot)
                    await eventually(lambda: stars_api.reads() > reads, 30)  # noqa: B023 - awaited here

                    async def credited() -> bool:
                        return await redis.hget(f"crash:user:{U}", "bal") == b"13"

                    await eventually(credited, 30)
                finally:
                    bot.terminate()
                    bot.wait(timeout=30)
            assert await redis.hget(f"crash:user:{U}", "bal") == b"13"
            assert int(await redis.hget("crash:stats", "payments") or 0) == 1
        finally:
            await redis.aclose()
    assert [t for t in stars_api.texts() if t.startswith("Thank you")] == ["Thank you! Added: 10 credits. Balance: 13."]
    assert TOKEN not in (tmp_path / "bot.log").read_text()
