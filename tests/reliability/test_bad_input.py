"""The bad-input corpus (corpus.py) against the worker, the local endpoint over HTTP and the bot: each case gets
its specific error, and the next valid job still succeeds."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from bot.runpod_client import RunPodSettings
from handler.local_endpoint import EndpointServer
from handler.settings import WorkerSettings
from tests.bot.harness import Bot, running_bot
from tests.endpoint.conftest import endpoint_worker_settings, fast_endpoint_settings
from tests.reliability import corpus, secrets
from tests.reliability.conftest import Capture
from workflows.contract import JobOutput, parse_error

# The worker ---------------------------------------------------------------------------------------------------


async def run_worker(worker: Any, job_input: Any) -> dict[str, Any]:
    return dict(await worker.handle({"id": f"corpus-{uuid.uuid4().hex[:8]}", "input": job_input}))


@pytest.mark.parametrize("case", corpus.WORKER_CASES, ids=lambda c: c.id)
async def test_worker_refuses_bad_input_then_runs_the_next_job(worker: Any, case: corpus.WorkerCase) -> None:
    result = await run_worker(worker, case.job_input)
    if not case.code:
        names = [o.filename for o in JobOutput.model_validate(result).outputs]
        assert names and not any("/" in n or ".." in n for n in names), names
        return
    assert "error" in result, f"{case.id} was accepted: {str(result)[:300]}"
    error = parse_error(result["error"])
    assert error.code == case.code, (case.id, error)
    assert case.fragment.lower() in error.message.lower() + json.dumps(error.details).lower(), (case.id, error)
    output = JobOutput.model_validate(await run_worker(worker, {"workflow": corpus.VALID_WORKFLOW}))
    assert [o.kind for o in output.outputs] == ["image"]


async def test_worker_refuses_an_image_over_the_size_cap(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.settings, "image_max_bytes", 1000)
    error = parse_error((await run_worker(worker, corpus.load(corpus.b64(corpus.NOISE))))["error"])
    assert error.code == "INVALID_INPUT" and "larger than" in error.message
    monkeypatch.undo()
    assert "error" not in await run_worker(worker, corpus.load(corpus.PNG_OK))


# The local endpoint over HTTP ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory, worker_settings: WorkerSettings) -> Iterator[EndpointServer]:
    work_dir = tmp_path_factory.mktemp("corpus-endpoint")
    server = EndpointServer(
        fast_endpoint_settings(api_key=secrets.RUNPOD_API_KEY), endpoint_worker_settings(worker_settings, work_dir)
    )
    server.start_in_thread()
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
async def http(endpoint: EndpointServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{endpoint.url}/local", timeout=30) as client:
        yield client


def auth_headers(_endpoint: EndpointServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {secrets.RUNPOD_API_KEY}"}


async def runsync(http: httpx.AsyncClient, endpoint: EndpointServer, job_input: Any) -> dict[str, Any]:
    response = await http.post("/runsync", json={"input": job_input}, headers=auth_headers(endpoint))
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("case", corpus.ENDPOINT_CASES, ids=lambda c: c.id)
async def test_endpoint_refuses_bad_requests_then_runs_the_next_job(
    http: httpx.AsyncClient, endpoint: EndpointServer, case: corpus.HttpCase
) -> None:
    headers = {"Content-Type": case.content_type} | (auth_headers(endpoint) if case.auth else {})
    response = await http.request(case.method, case.path, content=case.body, headers=headers)
    assert response.status_code == case.status, (case.id, response.status_code, response.text[:300])
    assert response.json().get("error"), response.text[:300]
    done = await runsync(http, endpoint, {"workflow": corpus.VALID_WORKFLOW})
    assert done["status"] == "COMPLETED", done


THROUGH_ENDPOINT = {
    "workflow-and-preset",
    "unknown-node",
    "dangling-link",
    "gigapixel-size",
    "missing-checkpoint",
    "image-decompression-bomb",
    "url-metadata",
}


@pytest.mark.parametrize("case", [c for c in corpus.WORKER_CASES if c.id in THROUGH_ENDPOINT], ids=lambda c: c.id)
async def test_endpoint_reports_the_workers_error(
    http: httpx.AsyncClient, endpoint: EndpointServer, case: corpus.WorkerCase
) -> None:
    failed = await runsync(http, endpoint, case.job_input)
    assert failed["status"] == "FAILED", failed
    assert parse_error(failed["error"]).code == case.code
    done = await runsync(http, endpoint, {"workflow": corpus.VALID_WORKFLOW})
    assert done["status"] == "COMPLETED", done


# The bot through Telegram updates --------------------------------------------------------------------------------

U = 3001


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:
    async with running_bot(redis, runpod_settings, free_credits=5, telegram_bot_token=secrets.TELEGRAM_TOKEN) as b:
        yield b


async def send_case(bot: Bot, case: corpus.BotCase) -> None:
    users = bot.users
    if case.kind == "command":
        await users.send(U, case.data)
    elif case.kind == "tap":
        data = case.data
        if "{draft}" in data:
            await users.send(U, "/imagine a fox")
            draft = next(d for _, d in bot.telegram.last_buttons(U) if d.startswith("ar:")).split(":")[1]
            data = data.format(draft=draft)
        await users.tap(U, data)
    elif case.kind == "document":
        await users.send_document(U, *case.data)
    elif case.kind == "precheckout":
        payload, amount = case.data
        await users.pre_checkout(U, payload.format(uid=U), amount)
    elif case.kind == "payment":
        payload, amount = case.data
        await users.paid(U, payload, amount, f"charge-{case.id}")


def last_reply(bot: Bot) -> str:
    """The last thing the user saw: a text, an edit, a callback answer or a pre-checkout refusal."""
    calls = bot.telegram.sent(
        "sendMessage", "editMessageText", "answerCallbackQuery", "answerPreCheckoutQuery", chat_id=None
    )
    mine = [c for c in calls if int(c.get("chat_id", U)) == U]
    if not mine:
        return ""
    last = mine[-1]
    return str(last.get("text") or last.get("error_message") or "")


def bot_params() -> list[Any]:
    """Known bugs (reported) are strict xfails: they start failing the suite the day they are fixed."""
    return [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.bug)] if c.bug else [])
        for c in corpus.BOT_CASES
    ]


@pytest.mark.parametrize("case", bot_params())
async def test_bot_answers_bad_input_then_runs_the_next_job(
    bot: Bot, case: corpus.BotCase, no_secret_in_logs: Capture
) -> None:
    await bot.users.send(U, "/start")
    bot.telegram.reset()
    await send_case(bot, case)
    assert case.reply in last_reply(bot), (case.id, last_reply(bot))
    assert await bot.ledger.balance(U) == 5, "bad input moved credits"
    crashes = [line for line in no_secret_in_logs.lines if '"msg": "update failed"' in line]
    assert not crashes, f"a handler crashed on {case.id}: {crashes[0][:400]}"
    await bot.users.send(U, "/imagine a valid fox")
    data = next(d for _, d in bot.telegram.last_buttons(U) if d.startswith("ar:"))
    await bot.users.tap(U, data)
    await bot.settle()
    assert bot.telegram.sent("sendPhoto", chat_id=U), "the next valid job was not delivered"
    assert await bot.ledger.balance(U) == 4
