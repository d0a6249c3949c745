"""Bot load: many jobs in flight in ONE bot process, with polling and with RunPod's webhook.

The bot is the real Application (handlers, ledger on a real redis-server, the job lifecycle on its queue, notifier) fed Telegram
updates through the tests' recording fake Telegram (PTB's request layer). The endpoint is a time-driven stand-in
for RunPod's queue API on loopback, in its own process so that its CPU is not counted: each job waits
``--queue-s`` IN_QUEUE, runs ``--run-s`` IN_PROGRESS, then completes with a tiny PNG (and POSTs RunPod's webhook
when the job asked for one). The local endpoint is not used: 2 cores cannot hold 1000 real jobs in flight.

Run: ``.venv/bin/python benchmarks/bot_load.py [--jobs 300] [--write]``; 1000 in flight:
``.venv/bin/python benchmarks/bot_load.py --jobs 1000 --queue-s 150``. Bot settings are the production defaults
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from benchmarks.common import write_marked  # noqa: E402

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
    job_seconds: float
    telegram_calls: int
    webhooks: int
    peak_in_flight: int
    runpod_calls: int = 0  # /run + /status + /cancel


def start_cloud(port: int, queue_s: float, run_s: float) -> subprocess.Popen[bytes]:
    args = ["--serve-cloud", str(port), "--queue-s", str(queue_s), "--run-s", str(run_s)]
    return subprocess.Popen([sys.executable, __file__, *args])


async def run_load(mode: str, jobs: int, queue_s: float, run_s: float) -> Result:
    from redis.asyncio import Redis

    from benchmarks.ledger_throughput import free_port, redis_server
    from bot.app import build_application
    from bot.ledger import Ledger
    from bot.runpod_client import RunPodClient, RunPodSettings
    from bot.settings import BotSettings
    from tests.bot.fake_telegram import FakeTelegram, Users
    from tests.bot.harness import start, stop

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
            settings = BotSettings(
                telegram_bot_token="1:bench",
                max_active_jobs=jobs + 10,
                free_credits=5,
                _env_file=None,  # type: ignore[call-arg]
                **extra,
            )
            runpod = RunPodSettings(
                base_url=f"http://127.0.0.1:{cloud_port}/v2",
                endpoint_id="bench",
                api_key=API_KEY,
                _env_file=None,  # type: ignore[call-arg]
            )
            redis = Redis.from_url(redis_url)
            telegram = FakeTelegram()
            try:
                async with RunPodClient(runpod) as endpoint:
                    ledger = Ledger(redis, settings.redis_prefix)
                    app = build_application(settings, ledger, endpoint, request=telegram)
                    await start(app)  # PTB's order: initialize -> post_init (the job queue) -> start
                    try:
                        return await drive(ledger, telegram, Users(app, telegram), mode, jobs, cloud_port)
                    finally:
                        await stop(app)  # stop -> post_stop -> shutdown -> post_shutdown
            finally:
                await redis.aclose()
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


async def job_seconds(ledger: Any) -> float:
    """Sum over jobs of reserved -> settled (the ledger stamps both)."""
    total = 0
    async for key in ledger.redis.scan_iter(match=f"{ledger.keys.p}job:*", count=1000):
        job = await ledger.redis.hmget(key, "created", "finished")
        total += int(job[1]) - int(job[0])
    return total / 1000


async def drive(ledger: Any, telegram: Any, users: Any, mode: str, jobs: int, cloud_port: int) -> Result:
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
            peak = max(peak, int(await ledger.redis.zcard(ledger.keys.active)))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())

    async def one(uid: int) -> None:
        async with sem:
            await users.send(uid, f"/imagine load test {uid}")
            data = next(d for _, d in telegram.last_buttons(uid) if d.startswith("ar:"))
            await users.tap(uid, data)

    await asyncio.gather(*(one(100_000 + i) for i in range(jobs)))
    submit_s = time.monotonic() - t0
    rss_peak = proc.memory_info().rss
    while await ledger.open_jobs():
        rss_peak = max(rss_peak, proc.memory_info().rss)
        await asyncio.sleep(0.5)
    wall = time.monotonic() - t0
    cpu = sum(proc.cpu_times()[:2]) - cpu0
    sampler.cancel()
    stats = await ledger.stats()
    assert stats.get("jobs_charged", 0) == jobs, stats
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
        await job_seconds(ledger),
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


async def main(args: argparse.Namespace) -> None:
    results = []
    for mode in args.modes:
        result = await run_load(mode, args.jobs, args.queue_s, args.run_s)
        print(json.dumps(result.__dict__), flush=True)
        results.append(result)
    text = render(results, args.queue_s, args.run_s)
    print(text)
    if args.write:
        write_marked(BEGIN, END, text, "Bot under load (benchmarks/bot_load.py)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--queue-s", type=float, default=60.0)
    parser.add_argument("--run-s", type=float, default=10.0)
    parser.add_argument("--modes", nargs="+", default=["polling", "webhook"], choices=["polling", "webhook"])
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--serve-cloud", type=int, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve_cloud:
        serve_cloud(parsed.serve_cloud, parsed.queue_s, parsed.run_s)
    else:
        asyncio.run(main(parsed))
