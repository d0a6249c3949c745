"""The bot's RunPod webhook receiver (bot/runpod_webhook.py), started by the real bot: loopback by default, the
path token checked before any of the body is read, and a small body cap enforced while reading."""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis.asyncio import Redis

from bot.app import WEBHOOK
from bot.runpod_client import RunPodSettings
from tests.bot.conftest import fake_runpod, redis, redis_url, runpod_settings  # noqa: F401 (fixtures)
from tests.bot.harness import Bot, running_bot

SECRET = "hook-token-5b1d0c"
CAP = 64 * 1024


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:  # noqa: F811
    async with running_bot(
        redis,
        runpod_settings,
        public_url="https://bot.example.org",
        runpod_webhook_secret=SECRET,
        runpod_webhook_port=0,  # RUNPOD_WEBHOOK_LISTEN left at its default
        runpod_webhook_max_body_bytes=CAP,
    ) as b:
        yield b


def _port(bot: Bot) -> int:
    return int(bot.app.bot_data[WEBHOOK].port)


def _raw_post(port: int, path: str, head: dict[str, str], chunks: Iterator[bytes]) -> tuple[bytes, int, bool]:
    """POST over a plain socket, stopping as soon as the server answers: (answer, body bytes sent, whether the
    server then closed the connection)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in head.items()), "", ""]
    sock.sendall("\r\n".join(lines).encode())
    sent = 0
    try:
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer, closed = b"", False
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                closed = True
                break
            answer += data
    except ConnectionResetError:
        closed = True
    except TimeoutError:
        pass
    sock.close()
    return answer, sent, closed


def _chunked(total_mb: int) -> Iterator[bytes]:
    data = b"a" * 16384
    frame = f"{len(data):x}\r\n".encode() + data + b"\r\n"
    for _ in range(total_mb * 64):
        yield frame


def test_the_receiver_listens_on_loopback_by_default() -> None:
    from bot.settings import BotSettings

    assert BotSettings(telegram_bot_token="1:x").runpod_webhook_listen == "127.0.0.1"


async def test_it_is_not_reachable_on_other_interfaces(bot: Bot) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # picks the outgoing interface; sends nothing
        own_address = probe.getsockname()[0]
    except OSError:
        pytest.skip("this machine has no non-loopback interface")
    finally:
        probe.close()
    if own_address.startswith("127."):
        pytest.skip("this machine has no non-loopback interface")
    with pytest.raises(OSError):  # refused (or dropped): nothing listens there
        socket.create_connection((own_address, _port(bot)), timeout=5).close()


async def test_a_wrong_token_is_refused_before_the_body_is_read(bot: Bot) -> None:
    head = {"Content-Type": "application/json", "Content-Length": str(90_000_000)}
    answer, sent, closed = await asyncio.to_thread(_raw_post, _port(bot), "/runpod/wrong/job-1", head, iter([]))
    assert answer.startswith(b"HTTP/1.1 403") and sent == 0, answer[:200]
    assert closed  # and the connection is dropped rather than the 90 MB awaited
    # A chunked body with a wrong token: answered at once too.
    head = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    answer, sent, _ = await asyncio.to_thread(_raw_post, _port(bot), "/runpod/wrong/job-1", head, _chunked(128))
    assert answer.startswith(b"HTTP/1.1 403") and sent < 32 * 1024 * 1024, (answer[:100], sent)


async def test_an_oversize_body_is_refused_while_it_is_read(bot: Bot) -> None:
    path = f"/runpod/{SECRET}/job-2"
    head = {"Content-Type": "application/json", "Content-Length": str(90_000_000)}
    answer, sent, _ = await asyncio.to_thread(_raw_post, _port(bot), path, head, iter([]))
    assert answer.startswith(b"HTTP/1.1 400") and sent == 0, answer[:200]
    head = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    answer, sent, _ = await asyncio.to_thread(_raw_post, _port(bot), path, head, _chunked(128))
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert sent < 32 * 1024 * 1024, sent  # what the sockets buffer past the cap, not the 128 MB offered
    # A real webhook still gets through.
    async with httpx.AsyncClient(timeout=10) as http:
        ok = await http.post(f"http://127.0.0.1:{_port(bot)}{path}", json={"id": "job-2", "status": "COMPLETED"})
    assert ok.status_code == 200
