"""Ledger throughput: reserve+finalize pairs per second against raw Redis commands per second, same server.

Run: ``.venv/bin/python benchmarks/ledger_throughput.py [--pairs 5000] [--write]``; ``--write`` replaces this
benchmark's section of docs/benchmarks.md. One redis-server (loopback, started here) per persistence setting;
the baseline is a pipeline-less INCR loop from the same redis.asyncio client at the same concurrency, so the
ratio says how many raw round trips one money transition costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis.asyncio import Redis  # noqa: E402

from benchmarks.common import write_marked  # noqa: E402
from bot.ledger import Ledger  # noqa: E402

BEGIN, END = "<!-- ledger_throughput:begin -->", "<!-- ledger_throughput:end -->"
PERSISTENCE = {
    "none": ["--save", "", "--appendonly", "no"],
    "AOF everysec": ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server(args: list[str]) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--loglevel", "warning", *args]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


async def rate(total: int, concurrency: int, op: Callable[[int, int], Awaitable[object]]) -> float:
    """Operations per second: ``total`` calls of ``op(loop, i)`` spread over ``concurrency`` sequential loops."""
    per = total // concurrency

    async def loop(worker: int) -> None:
        for i in range(per):
            await op(worker, worker * per + i)

    start = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in range(concurrency)))
    return per * concurrency / (time.perf_counter() - start)


async def measure(url: str, pairs: int, concurrency: int) -> tuple[float, float]:
    """(raw INCR per second, reserve+finalize pairs per second)."""
    redis = Redis.from_url(url, max_connections=concurrency + 4)
    ledger = Ledger(redis, prefix="bench:")
    await redis.flushdb()
    for uid in range(concurrency):
        await ledger.register(uid, free_credits=2 * pairs)

    async def incr(loop: int, _i: int) -> object:
        return await redis.incr(f"bench:counter:{loop}")

    async def pair(loop: int, i: int, tag: str = "job") -> None:
        # One user per loop: a user holds one open job at a time, so every reserve here must succeed.
        job_id = f"{tag}-{i}"
        reserved = await ledger.reserve(loop, job_id, 1, deadline_s=300, max_active=10**6)
        settled = await ledger.finalize(job_id, charged=i % 2 == 0)
        assert reserved.ok and settled.ok, (reserved, settled)

    async def warm_pair(loop: int, i: int) -> None:
        await pair(loop, i, "warm")

    warm = min(pairs, 500)
    await rate(warm, concurrency, incr)  # warm-up (connections, script cache)
    await rate(warm, concurrency, warm_pair)
    raw = await rate(pairs * 3, concurrency, incr)
    paired = await rate(pairs, concurrency, pair)
    stats = await ledger.stats()
    assert stats["jobs_reserved"] == stats["jobs_charged"] + stats["jobs_refunded"]
    balances = sum([await ledger.balance(u) for u in range(concurrency)])
    assert balances + stats.get("credits_spent", 0) == 2 * pairs * concurrency
    await redis.aclose()
    return raw, paired


def machine() -> str:
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    return (
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        f"redis-server {version.removeprefix('v=')} on 127.0.0.1 (same machine as the client), redis-py asyncio"
    )


def render(rows: list[tuple[str, int, float, float]], pairs: int) -> str:
    lines = [
        f"{machine()}, {time.strftime('%Y-%m-%d')}. {pairs} reserve+finalize pairs per row (half charged, half "
        "refunded); the baseline is a pipeline-less `INCR` loop from the same client at the same concurrency.",
        "",
        "| persistence | concurrent callers | raw INCR/s | reserve+finalize pairs/s | pairs / raw | INCR-equivalents per pair |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for persistence, conc, raw, paired in rows:
        lines.append(
            f"| {persistence} | {conc} | {raw:,.0f} | {paired:,.0f} | {paired / raw:.3f} | {raw / paired:.1f} |"
        )
    lines += [
        "",
        "A pair is three round trips (`HGETALL` of the job, then the `reserve` and `finalize` Lua scripts by",
        "`EVALSHA`), so the ideal ratio is ~0.33; the rest is the scripts' work (7-8 keys, two stream `XADD`s each).",
        "Run: `.venv/bin/python benchmarks/ledger_throughput.py --write`.",
    ]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = []
    for name, flags in PERSISTENCE.items():
        with redis_server(flags) as url:
            for conc in args.concurrency:
                raw, paired = await measure(url, args.pairs, conc)
                rows.append((name, conc, raw, paired))
                print(f"{name:14} c={conc:3} raw {raw:9,.0f}/s  pairs {paired:8,.0f}/s  ratio {paired / raw:.3f}")
    text = render(rows, args.pairs)
    print(text)
    if args.write:
        write_marked(BEGIN, END, text, "Ledger throughput (benchmarks/ledger_throughput.py)")


if __name__ == "__main__":
    asyncio.run(main())
