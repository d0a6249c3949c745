"""The latency the system adds around the GPU, as a user feels it, for a baseline ref and the working tree.

Per job: from the tap that starts it (the callback update handed to the bot) to the result's sendPhoto recorded
by the fake Telegram, minus the worker's execution time (RunPod's ``executionTime`` on the endpoint's status
body). Everything between is real: the bot's Application with production poll settings (polling mode; webhook
mode: RunPod's webhook into the bot's receiver), the ledger on a redis-server on loopback, the local endpoint over
HTTP and its real worker process running ComfyUI on the tests' tiny random checkpoint (2 sampler steps, 64x64).
Only Telegram is faked, at PTB's request layer (tests/bot/fake_telegram.py). The bot's input builder is swapped
for that tiny-checkpoint workflow (the presets need SDXL weights), so the job's Telegram flow is /imagine's.

Each side runs in its own subprocess through benchmarks/baseline.py: this checkout's driver, the tree's code.

Run: ``.venv/bin/python benchmarks/bot_latency.py [--jobs 20] [--concurrent 4] [--baseline-ref 0c4d6aa] [--write]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.baseline import BASELINE_REF, run_side, sides, use_code_root  # noqa: E402
from benchmarks.common import load, write_marked  # noqa: E402

use_code_root()

BEGIN, END = "<!-- bot_latency:begin -->", "<!-- bot_latency:end -->"
HOOK_SECRET = "latency-hook-secret"
TAG = "latency-"  # the /imagine prompt carries the job's tag; the workflow's filename_prefix repeats it


# The adapter: the only code that knows how the bot and the endpoint are built (both trees must fit it) ----------


@asynccontextmanager
async def running_bot(
    settings_kw: dict[str, Any], endpoint_url: str, redis_url: str, input_builder: Any
) -> AsyncIterator[Any]:
    """The real Application on the fake Telegram, started as under run_polling; yields (Application, FakeTelegram)."""
    from redis.asyncio import Redis

    from bot.app import build_application
    from bot.ledger import Ledger
    from bot.runpod_client import RunPodClient, RunPodSettings
    from bot.settings import BotSettings
    from tests.bot.fake_telegram import FakeTelegram

    settings = BotSettings(telegram_bot_token="1:latency", _env_file=None, **settings_kw)  # type: ignore[call-arg,arg-type]
    runpod = RunPodSettings(base_url=endpoint_url, endpoint_id="local", _env_file=None)  # type: ignore[call-arg]
    redis = Redis.from_url(redis_url)
    telegram = FakeTelegram()
    try:
        async with RunPodClient(runpod) as endpoint:
            app = build_application(
                settings, Ledger(redis, settings.redis_prefix), endpoint, request=telegram, input_builder=input_builder
            )
            # PTB's run_polling order, through the hooks the tree registered (post_stop or post_shutdown).
            await app.initialize()
            if app.post_init is not None:
                await app.post_init(app)
            await app.start()
            try:
                yield app, telegram
            finally:
                await app.stop()
                if app.post_stop is not None:
                    await asyncio.wait_for(app.post_stop(app), 30)
                await app.shutdown()
                if app.post_shutdown is not None:
                    await asyncio.wait_for(app.post_shutdown(app), 30)
    finally:
        await redis.aclose()


def start_endpoint(work: Path, models: Path) -> Any:
    """The local endpoint (RunPod's defaults) with one real worker process; returns the EndpointServer."""
    from handler.local_endpoint import EndpointServer, EndpointSettings
    from handler.settings import WorkerSettings

    # The bot's webhook receiver is on loopback; the job's input is kept so that its timings can be found by tag.
    settings = EndpointSettings(  # type: ignore[call-arg]
        port=0,
        workers=1,
        log_level="WARNING",
        allow_loopback_webhooks=True,
        keep_input_for_retry=True,
        _env_file=None,
    )
    worker = WorkerSettings(  # type: ignore[call-arg]
        comfyui_path=ROOT / ".comfyui",
        device="cpu",
        work_dir=work,
        models_dir=models,
        extra_model_paths=None,
        custom_nodes=False,
        s3_bucket=None,
        log_json=False,
        log_level="WARNING",
        _env_file=None,
    )
    server = EndpointServer(settings, worker)
    server.start_in_thread()
    server.wait_ready()
    return server


def execution_ms(server: Any, tag: str) -> tuple[int, int]:
    """(executionTime, delayTime) of the job whose workflow carries ``tag``, from its RunPod status body."""
    for job in list(server.endpoint.jobs.values()):
        if tag in json.dumps(job.request.input):
            body = job.body()
            return int(body["executionTime"]), int(body["delayTime"])
    raise LookupError(tag)


# The measurement (identical for both sides) ----------------------------------------------------------------


def tiny_workflow(checkpoint: str, tag: str, steps: int) -> dict[str, Any]:
    """Text to image on the tiny random checkpoint (the tests' production-shaped graph), found later by ``tag``."""
    from tests.handler import graphs

    # A fresh seed: ComfyUI's cache never skips the work.
    return graphs.sampler(checkpoint, seed=random.randrange(1 << 31), steps=steps, prompt=tag)


def mode_settings(mode: str, hook_port: int, prefix: str) -> dict[str, Any]:
    """Production settings, except a limit high enough and the webhook receiver on loopback."""
    kw: dict[str, Any] = {"redis_prefix": prefix, "free_credits": 3}
    if mode == "webhook":
        kw |= {
            "public_url": f"http://127.0.0.1:{hook_port}",
            "runpod_webhook_secret": HOOK_SECRET,
            "runpod_webhook_port": hook_port,
            "runpod_webhook_listen": "127.0.0.1",
        }
    return kw


async def one_job(app: Any, telegram: Any, users: Any, server: Any, uid: int, timeout_s: float) -> dict[str, float]:
    tag = f"{TAG}{uid}"
    await users.send(uid, f"/imagine {tag}")
    data = next(d for _, d in telegram.last_buttons(uid) if d.startswith("ar:"))
    tapped = time.monotonic()
    await users.tap(uid, data)
    deadline = tapped + timeout_s
    while not (done := telegram.sent("sendPhoto", "sendDocument", chat_id=uid)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no result for {tag} in {timeout_s:g} s: {telegram.texts(uid)[-3:]}")
        await asyncio.sleep(0.01)  # the fake stamps each call itself: this loop's period is not in the numbers
    total_ms = (done[0].at - tapped) * 1000
    exec_ms, delay_ms = await asyncio.to_thread(execution_ms, server, tag)
    return {"total_ms": total_ms, "exec_ms": exec_ms, "delay_ms": delay_ms, "added_ms": total_ms - exec_ms}


async def measure_mode(
    mode: str, args: argparse.Namespace, server: Any, redis_url: str, checkpoint: str
) -> dict[str, Any]:
    from benchmarks.ledger_throughput import free_port
    from tests.bot.fake_telegram import Users

    async def input_builder(job: Any) -> dict[str, Any]:
        return {"workflow": tiny_workflow(checkpoint, str(job.request.prompt), args.steps)}

    uids = iter(range(random.randrange(10**6, 10**8, 10**5), 10**9))
    result: dict[str, Any] = {}
    async with running_bot(mode_settings(mode, free_port(), f"lat-{mode}:"), server.url, redis_url, input_builder) as (
        app,
        telegram,
    ):
        users = Users(app, telegram)
        for _ in range(args.warmup):
            await one_job(app, telegram, users, server, next(uids), args.timeout_s)
        result["sequential"] = [
            await one_job(app, telegram, users, server, next(uids), args.timeout_s) for _ in range(args.jobs)
        ]
        result["concurrent"] = []
        for _ in range(args.rounds if args.concurrent > 1 else 0):
            batch = [one_job(app, telegram, users, server, next(uids), args.timeout_s) for _ in range(args.concurrent)]
            result["concurrent"] += await asyncio.gather(*batch)
    return result


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.common import tiny_checkpoint
    from benchmarks.ledger_throughput import redis_server

    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        models = Path(tmp) / "models"
        checkpoint = tiny_checkpoint(models)  # tests/support/tiny_checkpoint.py's, cached under .cache/
        server = await asyncio.to_thread(start_endpoint, Path(tmp) / "work", models)
        try:
            with redis_server(["--save", "", "--appendonly", "no"]) as redis_url:
                return {mode: await measure_mode(mode, args, server, redis_url, checkpoint) for mode in args.modes}
        finally:
            server.stop()


# Report (the parent) --------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]  # nearest rank


def part(samples: list[dict[str, float]], key: str) -> list[float]:
    """``added``: tap -> result minus executionTime; ``bot``: that minus delayTime (the wait for the worker)."""
    return [s["added_ms"] - (s["delay_ms"] if key == "bot" else 0) for s in samples]


def render(results: list[tuple[str, dict[str, Any]]], args: argparse.Namespace, command: str, load_before: str) -> str:
    lines = [
        "Added latency = tap -> the result's sendPhoto at the fake Telegram, minus the worker's executionTime. "
        f"Tiny random checkpoint, {args.steps} steps at 64x64 on CPU, one worker process; production poll settings. "
        f"Sequential: {args.jobs} jobs one after another (after {args.warmup} warm-up); concurrent: {args.rounds} "
        f"rounds of {args.concurrent} taps at once (they queue on the one worker: delayTime, submission to the "
        "worker's start, shows that wait; added - delayTime is the bot's own part).",
        "",
        "| side | mode | jobs | added p50 | added p95 | added - delayTime p50 | added - delayTime p95 | "
        "executionTime p50 | delayTime p95 |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, side in results:
        for mode, batches in side.items():
            for batch, samples in ((b, s) for b, s in batches.items() if s):
                added, bot = part(samples, "added"), part(samples, "bot")
                lines.append(
                    f"| {label} | {mode} | {batch} {len(samples)} | {pct(added, 0.5):.0f} ms | {pct(added, 0.95):.0f} ms | "
                    f"{pct(bot, 0.5):.0f} ms | {pct(bot, 0.95):.0f} ms | "
                    f"{pct([s['exec_ms'] for s in samples], 0.5):.0f} ms | {pct([s['delay_ms'] for s in samples], 0.95):.0f} ms |"
                )
    if len(results) == 2:
        (_, base), (_, cur) = results
        lines += [
            "",
            "| ratio working tree / baseline | mode | jobs | added p50 | added p95 | added - delayTime p50 | "
            "added - delayTime p95 |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        for mode in cur:
            for batch in (b for b in cur[mode] if cur[mode][b]):
                cells = []
                for key in ("added", "bot"):
                    old, new = part(base[mode][batch], key), part(cur[mode][batch], key)
                    cells += [f"{pct(new, q) / pct(old, q):.2f}x" for q in (0.5, 0.95)]
                lines.append(f"| | {mode} | {batch} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Run: `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
        f"before / after: {load_before} / {load()}.",
    ]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> None:
    if args.json_out:  # one side, in its own process
        import bot

        code = str(Path(bot.__file__).resolve().parent.parent)  # proves which tree was measured
        Path(args.json_out).write_text(json.dumps({"code": code, "modes": asyncio.run(measure(args))}))
        return
    load_before = load()
    argv = [
        f"--jobs={args.jobs}",
        f"--concurrent={args.concurrent}",
        f"--rounds={args.rounds}",
        f"--warmup={args.warmup}",
        f"--steps={args.steps}",
    ]
    argv += [f"--timeout-s={args.timeout_s}", "--modes", *args.modes]
    results = []
    for label, tree in sides(None if args.baseline_ref == "none" else args.baseline_ref):
        print(f"measuring {label} ...", flush=True)
        side = run_side(Path(__file__), tree, argv, timeout_s=3600)
        if side["code"] != str(tree.resolve()):
            raise RuntimeError(f"{label}: measured {side['code']}, not {tree}")
        results.append((label, side["modes"]))
    command = " ".join(["python benchmarks/bot_latency.py", *sys.argv[1:]])
    text = render(results, args, command, load_before)
    print(text)
    if args.write:
        write_marked(BEGIN, END, text, "Latency around the GPU (benchmarks/bot_latency.py)", path=Path(args.docs))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20, help="sequential jobs per mode")
    parser.add_argument("--concurrent", type=int, default=4, help="jobs tapped at once per mode (0/1: none)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --concurrent jobs per mode")
    parser.add_argument("--warmup", type=int, default=1, help="jobs per mode not counted (model load)")
    parser.add_argument("--steps", type=int, default=2, help="sampler steps of the tiny job")
    parser.add_argument("--timeout-s", type=float, default=300.0, help="per job")
    parser.add_argument("--modes", nargs="+", default=["polling", "webhook"], choices=["polling", "webhook"])
    parser.add_argument(
        "--baseline-ref", default=BASELINE_REF, help="git ref measured first in the same run; 'none': skip"
    )
    parser.add_argument("--write", action="store_true", help="rewrite this section of docs/benchmarks.md")
    parser.add_argument("--docs", default=str(ROOT / "docs" / "benchmarks.md"), help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse())
