"""Throughput and latency of the local endpoint's queue with a trivial workflow, through the real client.

  COMFYUI_PATH=.comfyui python benchmarks/endpoint_throughput.py [--jobs 200] [--workers 1] [--write-docs]

Scenarios: a burst of jobs submitted at once and waited for concurrently (the bot's pattern), with the client's
default polling (1 s rising to 5 s) and with fast polling (50 ms) to show the queue's own latency; and /runsync.
Reports jobs/s, p50/p99 submit-to-result latency and /status calls per job. --write-docs puts the table into
docs/benchmarks.md between this benchmark's markers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import write_marked
from bot.runpod_client import JobState, RunPodClient, RunPodSettings
from handler.local_endpoint import EndpointServer, EndpointSettings
from handler.local_endpoint.examples import blank_image_input
from handler.settings import WorkerSettings

START, END = "<!-- endpoint-throughput:start -->", "<!-- endpoint-throughput:end -->"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _one(client: RunPodClient, index: int, sync: bool) -> float:
    started = time.perf_counter()
    job_input = blank_image_input(64, 64, color=index)  # distinct colours: ComfyUI's cache never skips the work
    if sync:
        final = await client.runsync(job_input, wait_ms=300_000)
        if not final.is_terminal:
            final = await client.wait(final.id, deadline_s=600)
    else:
        final = await client.wait((await client.run(job_input)).id, deadline_s=600)
    assert final.status is JobState.COMPLETED, final
    return time.perf_counter() - started


async def scenario(
    server: EndpointServer, name: str, jobs: int, sync: bool, sequential: bool = False, **polling: float
) -> dict[str, Any]:
    settings = RunPodSettings(base_url=server.url, endpoint_id=server.settings.endpoint_id, **polling)  # type: ignore[arg-type]
    async with RunPodClient(settings) as client:
        started = time.perf_counter()
        if sequential:
            latencies = [await _one(client, i, sync) for i in range(jobs)]
        else:
            latencies = list(await asyncio.gather(*(_one(client, i, sync) for i in range(jobs))))
        elapsed = time.perf_counter() - started
        status_calls = client.requests_made.get("status", 0)
    return {
        "scenario": name,
        "jobs": jobs,
        "jobs_s": jobs / elapsed,
        "p50": statistics.median(latencies),
        "p99": _percentile(latencies, 0.99),
        "status_per_job": status_calls / jobs,
    }


def table(rows: list[dict[str, Any]], workers: int) -> str:
    lines = [
        f"Local endpoint, {workers} worker process(es), EmptyImage 64x64 -> SaveImage (base64 output), "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}.",
        "",
        "| scenario | jobs | jobs/s | p50 submit-to-result | p99 submit-to-result | /status calls per job |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['jobs']} | {r['jobs_s']:.1f} | {r['p50'] * 1000:.0f} ms | "
            f"{r['p99'] * 1000:.0f} ms | {r['status_per_job']:.1f} |"
        )
    lines += [
        "",
        "One-at-a-time /runsync is the endpoint's own overhead per job (HTTP, queue, pipe to the worker process and",
        "back) on top of a few ms of ComfyUI work. Burst latencies are mostly queue time: every job waits for the one",
        "worker. The client's default polling (1 s growing to 5 s) costs about one poll interval of latency and only",
        "1-2 /status calls per job here; a real 10-60 s generation costs roughly 5-15 calls.",
    ]
    return "\n".join(lines)


async def run(server: EndpointServer, jobs: int) -> list[dict[str, Any]]:
    await scenario(server, "warm-up", 5, sync=False, poll_initial_s=0.05, poll_max_s=0.05)
    return [
        await scenario(server, "burst, /run + wait (default polling 1 s -> 5 s)", jobs, sync=False),
        await scenario(
            server, "burst, /run + wait (fast polling 50 ms)", jobs, sync=False, poll_initial_s=0.05, poll_max_s=0.05
        ),
        await scenario(server, "burst, /runsync", jobs, sync=True),
        await scenario(server, "one at a time, /runsync", 20, sync=True, sequential=True),
        await scenario(
            server,
            "one at a time, /run + wait (fast polling 50 ms)",
            20,
            sync=False,
            sequential=True,
            poll_initial_s=0.05,
            poll_max_s=0.05,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        worker = WorkerSettings(device="cpu", work_dir=Path(work), log_level="WARNING", log_json=False, warmup=None)
        endpoint = EndpointSettings(port=0, workers=args.workers, log_level="WARNING")
        server = EndpointServer(endpoint, worker).start_in_thread()
        try:
            server.wait_ready(timeout_s=300)
            rows = asyncio.run(run(server, args.jobs))
        finally:
            server.stop()
    text = table(rows, args.workers)
    print(text)
    if args.write_docs:
        write_marked(START, END, text, "Local endpoint throughput (benchmarks/endpoint_throughput.py)")


if __name__ == "__main__":
    main()
