"""Security checks: webhooks without their secret are refused, admin commands do nothing for others, and no
configured secret reaches a log line (the autouse capture in conftest.py checks every test of this suite)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import boto3
import httpx
import pytest
from redis.asyncio import Redis

from bot.app import WEBHOOK
from bot.logs import setup_logging
from bot.runpod_client import RunPodSettings
from tests.bot.fake_runpod import HOLD, FakeRunPod, queued
from tests.bot.harness import ADMIN, Bot, running_bot
from tests.bot.waiting import eventually
from tests.reliability import corpus, secrets
from tests.reliability.conftest import Capture
from tests.reliability.redis_process import free_port
from workflows.contract import parse_error

U = 4001


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:
    async with running_bot(
        redis,
        runpod_settings,
        telegram_bot_token=secrets.TELEGRAM_TOKEN,
        telegram_webhook_secret=secrets.TELEGRAM_WEBHOOK_SECRET,
        public_url="https://bot.example.org",
        runpod_webhook_secret=secrets.RUNPOD_WEBHOOK_SECRET,
        runpod_webhook_listen="127.0.0.1",
        runpod_webhook_port=0,
    ) as b:
        yield b


# Telegram's webhook ---------------------------------------------------------------------------------------------


def start_update(update_id: int) -> dict[str, Any]:
    user = {"id": U, "is_bot": False, "first_name": "U", "language_code": "en"}
    message = {"message_id": 1, "date": int(time.time()), "chat": {"id": U, "type": "private"}, "from": user}
    message |= {"text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}
    return {"update_id": update_id, "message": message}


async def test_telegram_webhook_without_the_secret_token_is_refused(bot: Bot) -> None:
    """PTB's webhook server, started as bot/__main__.py starts it (url_path, secret_token)."""
    port = free_port()
    updater = bot.app.updater
    assert updater is not None
    await updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="telegram",
        webhook_url="https://bot.example.org/telegram",
        secret_token=bot.services.settings.telegram_webhook_secret.get_secret_value(),  # type: ignore[union-attr]
    )
    try:
        url = f"http://127.0.0.1:{port}/telegram"
        async with httpx.AsyncClient(timeout=10) as http:
            header = "X-Telegram-Bot-Api-Secret-Token"
            for headers in ({}, {header: "guess"}, {header: secrets.TELEGRAM_WEBHOOK_SECRET[:-1]}):
                refused = await http.post(url, json=start_update(1), headers=headers)
                assert refused.status_code == 403, (headers, refused.status_code)
            assert not bot.telegram.sent("sendMessage", chat_id=U)
            accepted = await http.post(url, json=start_update(2), headers={header: secrets.TELEGRAM_WEBHOOK_SECRET})
            assert accepted.status_code == 200

        async def welcomed() -> bool:
            return bool(bot.telegram.sent("sendMessage", chat_id=U))

        await eventually(welcomed, 10)
    finally:
        await updater.stop()
    [set_webhook] = bot.telegram.sent("setWebhook")
    assert set_webhook.get("secret_token") == secrets.TELEGRAM_WEBHOOK_SECRET


# RunPod's webhook -----------------------------------------------------------------------------------------------


async def test_runpod_webhook_without_its_token_is_refused(bot: Bot, fake_runpod: FakeRunPod) -> None:
    fake_runpod.script = lambda _input: [queued(), HOLD]
    await bot.users.send(U, "/imagine a fox")
    await bot.users.tap(U, next(d for _, d in bot.telegram.last_buttons(U) if d.startswith("ar:")))

    async def submitted() -> bool:
        return bool(fake_runpod.runs)

    await eventually(submitted, 10)
    # The token travels only in the webhook URL RunPod is given with the job.
    assert fake_runpod.runs[0]["webhook"].startswith(f"https://bot.example.org/runpod/{secrets.RUNPOD_WEBHOOK_SECRET}/")
    job_id = fake_runpod.runs[0]["webhook"].rsplit("/", 1)[1]
    port = bot.app.bot_data[WEBHOOK].port
    base = f"http://127.0.0.1:{port}/runpod"
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(f"{base}/wrong-token/{job_id}", json={})).status_code == 403
        assert (await http.post(f"{base}/{secrets.RUNPOD_WEBHOOK_SECRET[:-1]}/{job_id}", json={})).status_code == 403
        assert (await http.post(f"{base}/{job_id}", json={})).status_code == 404  # no token at all
        assert (await http.post(f"{base}/{secrets.RUNPOD_WEBHOOK_SECRET}/{job_id}", json={})).status_code == 200
    await bot.users.send(U, "/cancel")
    await bot.settle()
    assert await bot.ledger.balance(U) == 3  # the forged calls moved no money


# Admin commands -------------------------------------------------------------------------------------------------

ADMIN_COMMANDS = [
    "/stats",
    f"/grant {U} 1000",
    f"/ban {U + 1}",
    f"/unban {U}",
    "/broadcast hello everyone",
    "/refund some-charge-id",
]


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_admin_commands_from_non_admins_are_refused(bot: Bot, command: str) -> None:
    await bot.users.send(U + 1, "/start")
    await bot.users.send(U, "/start")
    await bot.users.send(U, command)
    assert "I don't know that command" in bot.telegram.last_text(U)
    assert await bot.ledger.balance(U) == 3 and not await bot.ledger.is_banned(U + 1)
    assert not bot.telegram.sent("sendMessage", chat_id=U + 1)[1:], "a broadcast went out"
    assert "jobs_reserved" not in bot.telegram.last_text(U)
    await bot.users.send(ADMIN, f"/grant {U} 5")  # the same command works for the admin
    assert await bot.ledger.balance(U) == 8


# Secrets in logs -------------------------------------------------------------------------------------------------


async def test_debug_logs_never_show_telegram_secrets(redis: Redis, runpod_settings: RunPodSettings) -> None:
    """The production logging set-up at its most verbose, then a bot built and used."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    capture = Capture()
    try:
        setup_logging("DEBUG")
        root.addHandler(capture)
        async with running_bot(redis, runpod_settings, telegram_bot_token=secrets.TELEGRAM_TOKEN) as bot:
            await bot.users.send(U, "/start")
            await bot.app.bot.set_webhook(
                "https://bot.example.org/telegram", secret_token=secrets.TELEGRAM_WEBHOOK_SECRET
            )
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("httpx").setLevel(logging.WARNING)
    leaks = [
        line for line in capture.lines if secrets.TELEGRAM_TOKEN in line or secrets.TELEGRAM_WEBHOOK_SECRET in line
    ]
    capture.lines.clear()
    assert not leaks, leaks[0]


async def test_runpod_webhook_token_never_logged_at_info(bot: Bot) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    capture = Capture()
    try:
        setup_logging("INFO")
        root.addHandler(capture)
        port = bot.app.bot_data[WEBHOOK].port
        async with httpx.AsyncClient(timeout=10) as http:
            url = f"http://127.0.0.1:{port}/runpod/{secrets.RUNPOD_WEBHOOK_SECRET}/somejob"
            assert (await http.post(url, json={})).status_code == 200
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("httpx").setLevel(logging.WARNING)
    leaks = [line for line in capture.lines if secrets.RUNPOD_WEBHOOK_SECRET in line]
    assert not leaks, leaks[0]


async def test_s3_keys_never_reach_logs_or_results(
    worker: Any, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker.settings, "allow_loopback_urls", True)  # moto listens on 127.0.0.1
    bucket = f"sec-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id=secrets.S3_ACCESS_KEY,
        aws_secret_access_key=secrets.S3_SECRET_KEY,
    )
    s3.create_bucket(Bucket=bucket)
    override = {
        "bucket": bucket,
        "endpoint_url": moto_endpoint,
        "region": "us-east-1",
        "access_key_id": secrets.S3_ACCESS_KEY,
        "secret_access_key": secrets.S3_SECRET_KEY,
    }
    job = {"workflow": corpus.VALID_WORKFLOW, "s3": override, "delivery": "s3"}
    stored = await worker.handle({"id": "sec-ok", "input": job})
    assert "error" not in stored and stored["outputs"][0]["url"]
    missing = await worker.handle({"id": "sec-bad", "input": job | {"s3": override | {"bucket": "no-such-bucket"}}})
    assert parse_error(missing["error"]).code == "STORAGE_FAILED"
    runpod_style = {"accessId": secrets.S3_ACCESS_KEY, "accessSecret": secrets.S3_SECRET_KEY, "bucketName": bucket}
    via_runpod = await worker.handle(
        {
            "id": "sec-rp",
            "input": {"workflow": corpus.VALID_WORKFLOW},
            "s3Config": runpod_style | {"endpointUrl": moto_endpoint},
        }
    )
    assert "error" not in via_runpod, via_runpod
    for result in (stored, missing, via_runpod):
        assert secrets.S3_SECRET_KEY not in json.dumps(result)


def test_the_capture_would_see_a_leak(no_secret_in_logs: Capture) -> None:
    """The check is live: a secret logged here would be found (then removed so this test passes)."""
    logging.getLogger("bot.tracker").debug("token %s", secrets.RUNPOD_API_KEY)
    assert any(secrets.RUNPOD_API_KEY in line for line in no_secret_in_logs.lines)
    no_secret_in_logs.lines.clear()


def test_redaction_covers_every_part_of_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    """The safety net: a secret that does reach a log call is masked in the message, the extras and tracebacks."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging("INFO", secrets=[secrets.RUNPOD_API_KEY])
        log = logging.getLogger("bot.tracker")
        log.info("calling %s", f"https://x/{secrets.RUNPOD_API_KEY}", extra={"url": f"/{secrets.RUNPOD_API_KEY}/x"})
        try:
            raise RuntimeError(f"auth failed for {secrets.RUNPOD_API_KEY}")
        except RuntimeError:
            log.exception("boom")
    finally:
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err
    assert err.count("***") >= 3 and secrets.RUNPOD_API_KEY not in err, err
