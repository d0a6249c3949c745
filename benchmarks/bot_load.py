"""Bot load: many jobs in flight in ONE bot process, with polling and with RunPod's webhook.

The bot is the real Application (handlers, ledger on a real redis-server, the job lifecycle on its queue, notifier) fed Telegram
updates through the tests' recording fake Telegram (PTB's request layer). The endpoint is a time-driven stand-in
for RunPod's queue API on loopback, in its own process so that its CPU is not counted: each job waits
``--queue-s`` IN_QUEUE, runs ``--run-s`` IN_PROGRESS, then completes with a tiny PNG (and POSTs RunPod's webhook
when the job asked for one). The local endpoint is not used: 2 cores cannot hold 1000 real jobs in flight.

Run: ``.venv/bin/python benchmarks/bot_load.py [--jobs 300] [--write]``; 1000 in flight:
``.venv/bin/python benchmarks/bot_load.py --jobs 1000 --queue-s 150``. ``--baseline-ref REF`` measures REF's bot
first, in the same run (benchmarks/baseline.py: this driver, REF's code), and writes both with their ratios. Bot settings are the production defaults
(polling 1 s growing to 5 s; with the webhook, queued jobs are polled every 20 s as a fallback).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from benchmarks.baseline import run_side, sides, use_code_root  # noqa: E402
from benchmarks.common import DOCS, write_marked  # noqa: E402

use_code_root()  # a side's subprocess (--baseline-ref): the tree under test's bot, this checkout's driver

BEGIN, END = "<!-- bot_load:begin -->", "<!-- bot_load:end -->"
API_KEY = "bench-key"
HOOK_SECRET = "bench-hook-secret"


# The stand-in for RunPod's cloud (child process) -------------------------------------------------------------


def serve_cloud(port: int, queue_s: float, run_s: float) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.bot.fake_runpod import completed_image

    jobs: dict[str, dict[str, Any]] = {}
    counts = {"run": 0, "status": 0, "cancel": 0, "webhook": 0, "webhook_failed": 0}
    done_output = completed_image()["output"]
    client = httpx.AsyncClient(timeout=30)

    def state(job: dict[str, Any]) -> dict[str, Any]:
        age = time.monotonic() - job["t0"]
        if age < queue_s:
            return {"id": job["id"], "status": "IN_QUEUE"}
        if age < queue_s + run_s:
            pct = 100 * (age - queue_s) / run_s
            return {"id": job["id"], "status": "IN_PROGRESS", "output": {"percent": round(pct, 1)}}
        return {"id": job["id"], "status": "COMPLETED", "output": done_output, "executionTime": run_s * 1000}

    async def hook(job: dict[str, Any]) -> None:
        await asyncio.sleep(queue_s + run_s)
        try:
            await client.post(job["webhook"], json=state(job))
            counts["webhook"] += 1
        except httpx.HTTPError:
            counts["webhook_failed"] += 1

    async def run(request: Request) -> JSONResponse:
        body = await request.json()
        counts["run"] += 1
        job = {"id": f"rp-{counts['run']}", "t0": time.monotonic(), "webhook": body.get("webhook")}
        jobs[job["id"]] = job
        if job["webhook"]:
            job["task"] = asyncio.create_task(hook(job))
        return JSONResponse({"id": job["id"], "status": "IN_QUEUE"})

    async def status(request: Request) -> JSONResponse:
        counts["status"] += 1
        job = jobs.get(request.path_params["job_id"])
        return JSONResponse(state(job) if job else {"error": "not found"}, status_code=200 if job else 404)

    async def cancel(request: Request) -> JSONResponse:
        counts["cancel"] += 1
        return JSONResponse({"id": request.path_params["job_id"], "status": "CANCELLED"})

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse(counts)

    app = Starlette(
        routes=[
            Route("/v2/{ep}/run", run, methods=["POST"]),
            Route("/v2/{ep}/status/{job_id}", status),
            Route("/v2/{ep}/cancel/{job_id}", cancel, methods=["POST"]),
            Route("/stats", stats),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=4096)


# The bot (this process) ---------------------------------------------------------------------------------------


@dataclass
class Result:
    mode: str
    jobs: int
    wall_s: float
    submit_s: float
    cpu_s: float
    rss_before: int
    rss_peak: int
    status_calls: int
    run_calls: int
    job_seconds: float
    telegram_calls: int
    webhooks: int
    peak_in_flight: int
    runpod_calls: int = 0  # /run + /status + /cancel


def start_cloud(port: int, queue_s: float, run_s: float) -> subprocess.Popen[bytes]:
    args = ["--serve-cloud", str(port), "--queue-s", str(queue_s), "--run-s", str(run_s)]
    return subprocess.Popen([sys.executable, __file__, *args])


# The adapter: the only code that knows how the bot is built and what its ledger keeps (both trees must fit it) ----


class Probe:
    """What the driver reads from the bot's Redis: jobs in flight, open, charged, and their durations."""

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger

    async def in_flight(self) -> int:
        return int(await self.ledger.redis.zcard(self.ledger.keys.active))

    async def any_open(self) -> bool:
        return bool(await self.ledger.open_jobs())

    async def charged(self) -> int:
        return int((await self.ledger.stats()).get("jobs_charged", 0))

    async def job_seconds(self) -> float:
        """Sum over jobs of reserved -> settled (the ledger stamps both)."""
        total = 0
        async for key in self.ledger.redis.scan_iter(match=f"{self.ledger.keys.p}job:*", count=1000):
            job = await self.ledger.redis.hmget(key, "created", "finished")
            total += int(job[1]) - int(job[0])
        return total / 1000


@asynccontextmanager
async def running_bot(
    settings_kw: dict[str, Any], runpod_kw: dict[str, Any], redis_url: str, telegram: Any, redis_pool: int | None
) -> AsyncIterator[tuple[Any, Probe]]:
    """The real Application on the fake Telegram, started as under run_polling; yields (Application, Probe)."""
    from redis.asyncio import Redis

    from bot.app import build_application
    from bot.ledger import Ledger
    from bot.runpod_client import RunPodClient, RunPodSettings
    from bot.settings import BotSettings

    settings = BotSettings(_env_file=None, **settings_kw)  # type: ignore[call-arg]
    runpod = RunPodSettings(_env_file=None, **runpod_kw)  # type: ignore[call-arg]
    # As bot/__main__.py builds it (redis-py's default pool: 100 connections in redis-py 8), unless --redis-pool.
    redis = Redis.from_url(redis_url, **({"max_connections": redis_pool} if redis_pool else {}))
    try:
        async with RunPodClient(runpod) as endpoint:
            ledger = Ledger(redis, settings.redis_prefix)
            app = build_application(settings, ledger, endpoint, request=telegram)
            # PTB's run_polling order, through the hooks the tree registered (post_stop or post_shutdown).
            await app.initialize()
            if app.post_init is not None:
                await app.post_init(app)
            await app.start()
            try:
                yield app, Probe(ledger)
            finally:
                await app.stop()
                if app.post_stop is not None:
                    await app.post_stop(app)
                await app.shutdown()
                if app.post_shutdown is not None:
                    await app.post_shutdown(app)
    finally:
        await redis.aclose()


# The measurement (identical for both sides) ----------------------------------------------------------------


async def run_load(mode: str, jobs: int, queue_s: float, run_s: float, redis_pool: int | None) -> Result:
    from benchmarks.ledger_throughput import free_port, redis_server
    from tests.bot.fake_telegram import FakeTelegram, Users

    cloud_port = free_port()
    cloud = start_cloud(cloud_port, queue_s, run_s)
    try:
        with redis_server(["--save", "", "--appendonly", "no"]) as redis_url:
            await wait_http(f"http://127.0.0.1:{cloud_port}/stats")
            hook_port = free_port()
            extra: dict[str, Any] = {}
            if mode == "webhook":
                extra = dict(
                    public_url=f"http://127.0.0.1:{hook_port}",
                    runpod_webhook_secret=HOOK_SECRET,
                    runpod_webhook_port=hook_port,
                    runpod_webhook_listen="127.0.0.1",
                )
            settings = dict(telegram_bot_token="1:bench", max_active_jobs=jobs + 10, free_credits=5, **extra)
            runpod = dict(base_url=f"http://127.0.0.1:{cloud_port}/v2", endpoint_id="bench", api_key=API_KEY)
            telegram = FakeTelegram()
            async with running_bot(settings, runpod, redis_url, telegram, redis_pool) as (app, probe):
                return await drive(probe, telegram, Users(app, telegram), mode, jobs, cloud_port)
    finally:
        cloud.terminate()
        cloud.wait(timeout=10)


async def wait_http(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.get(url)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def drive(probe: Probe, telegram: Any, users: Any, mode: str, jobs: int, cloud_port: int) -> Result:
    proc = psutil.Process()
    telegram.reset()
    rss_before = proc.memory_info().rss
    cpu0 = sum(proc.cpu_times()[:2])
    t0 = time.monotonic()
    sem = asyncio.Semaphore(50)
    peak = 0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, await probe.in_flight())
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())

    async def one(uid: int) -> None:
        async with sem:
            await users.send(uid, f"/imagine load test {uid}")
            data = next((d for _, d in telegram.last_buttons(uid) if d.startswith("ar:")), None)
            if data is None:
                raise RuntimeError(f"/imagine got no aspect buttons for user {uid}: {telegram.texts(uid)[-2:]}")
            await users.tap(uid, data)

    await asyncio.gather(*(one(100_000 + i) for i in range(jobs)))
    submit_s = time.monotonic() - t0
    rss_peak = proc.memory_info().rss
    while await probe.any_open():
        rss_peak = max(rss_peak, proc.memory_info().rss)
        await asyncio.sleep(0.5)
    wall = time.monotonic() - t0
    cpu = sum(proc.cpu_times()[:2]) - cpu0
    sampler.cancel()
    charged = await probe.charged()
    assert charged == jobs, f"{charged} of {jobs} jobs charged"
    async with httpx.AsyncClient() as client:
        counts = (await client.get(f"http://127.0.0.1:{cloud_port}/stats")).json()
    return Result(
        mode,
        jobs,
        wall,
        submit_s,
        cpu,
        rss_before,
        rss_peak,
        counts["status"],
        counts["run"],
        await probe.job_seconds(),
        len(telegram.calls),
        counts["webhook"],
        peak,
        counts["run"] + counts["status"] + counts["cancel"],
    )


def render(results: list[Result], queue_s: float, run_s: float) -> str:
    mib = 1024 * 1024
    lines = [
        f"One bot process (this Python, {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}): real Application, ledger on redis-server "
        "(loopback, its CPU not counted), recording fake Telegram at PTB's request layer; endpoint: a time-driven "
        f"stand-in for RunPod's queue API in another process (each job {queue_s:g} s IN_QUEUE, {run_s:g} s "
        "IN_PROGRESS, then COMPLETED with a 1x1 PNG). All jobs submitted at once (50 users at a time); "
        "production poll settings.",
        "",
        "| mode | jobs | peak in flight | submit all | all delivered | bot CPU per job | RSS idle -> peak | "
        "/status per job-second | /status per job | RunPod calls per job | Telegram calls per job |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.jobs} | {r.peak_in_flight} | {r.submit_s:.1f} s | {r.wall_s:.1f} s | {1000 * r.cpu_s / r.jobs:.1f} ms | "
            f"{r.rss_before / mib:.0f} -> {r.rss_peak / mib:.0f} MiB (+{(r.rss_peak - r.rss_before) / r.jobs / 1024:.0f}"
            f" KiB/job) | {r.status_calls / r.job_seconds:.3f} | {r.status_calls / r.jobs:.1f} | "
            f"{r.runpod_calls / r.jobs:.1f} | {r.telegram_calls / r.jobs:.1f} |"
        )
    base = results[0]
    if len(results) > 1:
        hook = results[1]
        lines += [
            "",
            f"Webhook vs polling: {hook.status_calls / max(base.status_calls, 1):.2f}x the /status calls "
            f"({hook.webhooks} webhooks received); CPU per job {hook.cpu_s / max(base.cpu_s, 1e-9):.2f}x.",
        ]
    lines += [
        "Telegram calls per job: the /imagine answer, the aspect tap's answer and edit, status edits (at most one "
        "per 3 s per job), the photo and the final edit.",
        "Run: `.venv/bin/python benchmarks/bot_load.py --write` (default 300 jobs); 1000 in flight at once: "
        "`--jobs 1000 --queue-s 150` (submitting 1000 takes longer than the default 60 s in the queue).",
    ]
    return "\n".join(lines)


def compare(sides_: list[tuple[str, list[Result]]]) -> str:
    """Both sides' figures and the working tree's ratio to the baseline, mode by mode."""
    mib = 1024 * 1024
    lines = [
        "| side | mode | jobs | peak in flight | all delivered | bot CPU per job | RSS peak | RSS per job | "
        "/status per job | Telegram calls per job |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, results in sides_:
        for r in results:
            lines.append(
                f"| {label} | {r.mode} | {r.jobs} | {r.peak_in_flight} | {r.wall_s:.1f} s | {1000 * r.cpu_s / r.jobs:.1f} ms | "
                f"{r.rss_peak / mib:.0f} MiB | {(r.rss_peak - r.rss_before) / r.jobs / 1024:.0f} KiB | "
                f"{r.status_calls / r.jobs:.1f} | {r.telegram_calls / r.jobs:.1f} |"
            )
    (_, base), (_, cur) = sides_
    lines += [
        "",
        "| ratio working tree / baseline | all delivered | CPU per job | RSS peak | RSS per job | RunPod /status per job "
        "| RunPod /run per job | Telegram calls per job |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def q(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "n/a"

    for b, c in zip(base, cur, strict=True):
        lines.append(
            f"| {c.mode} | {q(c.wall_s, b.wall_s)} | {q(c.cpu_s / c.jobs, b.cpu_s / b.jobs)} | {q(c.rss_peak, b.rss_peak)} | "
            f"{q(c.rss_peak - c.rss_before, b.rss_peak - b.rss_before)} | {q(c.status_calls / c.jobs, b.status_calls / b.jobs)} "
            f"| {q(c.run_calls / c.jobs, b.run_calls / b.jobs)} | {q(c.telegram_calls / c.jobs, b.telegram_calls / b.jobs)} |"
        )
    return "\n".join(lines)


async def measure(args: argparse.Namespace) -> list[Result]:
    results = []
    for mode in args.modes:
        result = await run_load(mode, args.jobs, args.queue_s, args.run_s, args.redis_pool)
        print(json.dumps(result.__dict__), flush=True)
        results.append(result)
    return results


def main(args: argparse.Namespace) -> None:
    if args.json_out:  # one side of --baseline-ref, in its own process
        import bot

        code = str(Path(bot.__file__).resolve().parent.parent)  # proves which tree was measured
        results = asyncio.run(measure(args))
        Path(args.json_out).write_text(json.dumps({"code": code, "results": [r.__dict__ for r in results]}))
        return
    if not args.baseline_ref:
        results = asyncio.run(measure(args))
        text = render(results, args.queue_s, args.run_s)
    else:
        argv = [f"--jobs={args.jobs}", f"--queue-s={args.queue_s}", f"--run-s={args.run_s}", "--modes", *args.modes]
        argv += [f"--redis-pool={args.redis_pool}"] if args.redis_pool else []
        both = []
        for label, tree in sides(args.baseline_ref):
            print(f"measuring {label} ...", flush=True)
            side = run_side(Path(__file__), tree, argv, timeout_s=7200)
            if side["code"] != str(tree.resolve()):
                raise RuntimeError(f"{label}: measured {side['code']}, not {tree}")
            both.append((label, [Result(**r) for r in side["results"]]))
        command = " ".join(["python benchmarks/bot_load.py", *sys.argv[1:]])
        text = "\n".join(
            [
                render(both[1][1], args.queue_s, args.run_s).split("\n\n")[0],
                "",
                compare(both),
                "",
                f"Run: `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (both sides in this run, "
                "one after the other; the machine is shared, so the ratios carry noise).",
            ]
        )
    print(text)
    if args.write:
        write_marked(BEGIN, END, text, "Bot under load (benchmarks/bot_load.py)", path=Path(args.docs))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--queue-s", type=float, default=60.0)
    parser.add_argument("--run-s", type=float, default=10.0)
    parser.add_argument("--modes", nargs="+", default=["polling", "webhook"], choices=["polling", "webhook"])
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--redis-pool", type=int, help="the bot's Redis max_connections (default: as bot/__main__.py)")
    parser.add_argument("--baseline-ref", help="also measure this git ref's bot (e.g. 0c4d6aa) first, in the same run")
    parser.add_argument("--docs", default=str(DOCS), help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    parser.add_argument("--serve-cloud", type=int, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve_cloud:
        serve_cloud(parsed.serve_cloud, parsed.queue_s, parsed.run_s)
    else:
        main(parsed)
