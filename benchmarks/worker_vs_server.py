"""Our in-process handler against ComfyUI's own HTTP server path, on the same ComfyUI and the same workflows.

    /work/main/.venv/bin/python benchmarks/worker_vs_server.py --runs 20

Needs the server's extra packages: pip install -c requirements/constraints.txt -r requirements/bench.txt

1. Per job, warm: Worker.handle (base64 / S3 upload, production progress sink) against worker-comfyui's per-job
   work on ComfyUI's server (benchmarks/server_path.py: readiness probe, websocket, POST /prompt, GET /history,
   GET /view, base64 or rp_upload to S3), interleaved. With --worker-comfyui DIR, that column runs worker-comfyui's
   own handler.py from the checkout DIR. S3 rows add the same server path with rp_upload's boto3 client made once,
   which separates what client reuse saves from what in-process execution saves. Overhead is the job's wall time
   minus ComfyUI's own execution time for that job.
2. Cold start to first job done: `python -m handler` equivalent against `python main.py` + the first job.
3. Uploads of a 1 MB image and a 30 MB video: our storage.upload against a plain boto3 put_object.
S3 is moto's server (ThreadedMotoServer on 127.0.0.1) in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    COMFYUI,
    Summary,
    fmt,
    load,
    moto_server,
    production_logs_to_devnull,
    progress_receiver,
    ratio,
    run_stamp,
    s3_client,
    table,
    tiny_checkpoint,
    update_docs,
)
from benchmarks.server_path import ComfyServer, Delivery, ServerJob, WorkerComfyuiHandler, run_job
from benchmarks.timing import Child, empty_image, new_id, template_sampler, template_steps

DOC_KEY = "worker-vs-server"
RUNPOD_BUCKET = time.strftime("%m-%y")  # the bucket rp_upload.upload_image writes to when given none
OUR_BUCKET = "bench-outputs"


@dataclass
class Sample:
    wall_ms: float
    execute_ms: float

    @property
    def overhead_ms(self) -> float:
        return self.wall_ms - self.execute_ms


@dataclass
class Case:
    name: str
    graph: Callable[[int], dict[str, Any]]
    s3: bool


def prepare_s3(endpoint: str) -> dict[str, str]:
    client: Any = s3_client(endpoint)
    for bucket in (RUNPOD_BUCKET, OUR_BUCKET):
        client.create_bucket(Bucket=bucket)
    os.environ.update(
        {"BUCKET_ENDPOINT_URL": endpoint, "BUCKET_ACCESS_KEY_ID": "test", "BUCKET_SECRET_ACCESS_KEY": "test"}
    )
    return {
        "bucket": OUR_BUCKET,
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "access_key_id": "test",
        "secret_access_key": "test",
    }


async def boot_worker(root: Path) -> Any:
    from handler.settings import WorkerSettings
    from handler.worker import Worker

    settings = WorkerSettings(
        comfyui_path=COMFYUI,
        device="cpu",
        work_dir=root / "work",
        models_dir=root / "models",
        s3_bucket=None,
        allow_loopback_urls=True,  # the per-request bucket is moto's server on 127.0.0.1
    )
    production_logs_to_devnull(settings.log_level, settings.log_json)
    worker = Worker(settings)  # the production progress sink: runpod.serverless.progress_update
    await worker.start()
    return worker


async def ours(worker: Any, graph: dict[str, Any], s3: dict[str, str] | None) -> Sample:
    job_input: dict[str, Any] = {"workflow": graph, "delivery": "s3" if s3 else "base64"}
    if s3:
        job_input["s3"] = s3
    started = time.perf_counter()
    result = await worker.handle({"id": new_id("job"), "input": job_input})
    wall = (time.perf_counter() - started) * 1000
    if "error" in result:
        raise RuntimeError(result["error"])
    return Sample(wall, result["timings"]["execute_ms"])


Baseline = Callable[[dict[str, Any], Delivery], ServerJob]


async def per_job(
    worker: Any, baseline: Baseline, rewrite: Baseline, cases: list[Case], s3: dict[str, str], runs: int, warmup: int
) -> dict[str, tuple[list[Sample], list[Sample], list[Sample]]]:
    """Per case: (ours, server path, server path with rp_upload's client made once; empty for base64)."""
    results: dict[str, tuple[list[Sample], list[Sample], list[Sample]]] = {}
    for case in cases:
        samples: dict[str, list[Sample]] = {"ours": [], "server": [], "reused": []}
        order = ["ours", "server", "reused"] if case.s3 else ["ours", "server"]
        for i in range(warmup + runs):
            # the same graph shape for every runner, a new colour/seed for each job; rotate who goes first
            for n, who in enumerate(order[i % len(order) :] + order[: i % len(order)]):
                one = case.graph(i * len(order) + n)
                if who == "ours":
                    sample = await ours(worker, one, s3 if case.s3 else None)
                else:
                    delivery: Delivery = "base64" if not case.s3 else "rp_upload"
                    if who == "reused":
                        delivery = "rp_upload_reused_client"
                        job = await asyncio.to_thread(rewrite, one, delivery)
                    else:
                        job = await asyncio.to_thread(baseline, one, delivery)
                    sample = Sample(job.wall_ms, job.execute_ms)
                if i >= warmup:
                    samples[who].append(sample)
        results[case.name] = (samples["ours"], samples["server"], samples["reused"])
        print(f"  per job: {case.name} done", file=sys.stderr)
    return results


def per_job_table(results: dict[str, tuple[list[Sample], list[Sample], list[Sample]]]) -> str:
    rows = []
    for name, (mine, theirs, reused) in results.items():
        mw, tw = Summary.of([s.wall_ms for s in mine]), Summary.of([s.wall_ms for s in theirs])
        mo, to = Summary.of([s.overhead_ms for s in mine]), Summary.of([s.overhead_ms for s in theirs])
        rw = Summary.of([s.wall_ms for s in reused]) if reused else None
        rows.append(
            [
                name,
                f"{fmt(mw.median)} / {fmt(mw.p90)}",
                f"{fmt(tw.median)} / {fmt(tw.p90)}",
                f"**{ratio(tw.median, mw.median)}**",
                f"{fmt(rw.median)} / {fmt(rw.p90)}" if rw else "-",
                ratio(rw.median, mw.median) if rw else "-",
                ratio(tw.median, rw.median) if rw else "-",
                f"{fmt(mo.median)} / {fmt(to.median)}",
                f"{fmt(Summary.of([s.execute_ms for s in mine]).median)} / "
                f"{fmt(Summary.of([s.execute_ms for s in theirs]).median, 0)}",
                str(mw.n),
            ]
        )
    headers = [
        "workflow -> delivery",
        "in-process wall ms (median / p90)",
        "server path wall ms (median / p90)",
        "server / in-process",
        "server path, S3 client made once, wall ms",
        "that / in-process (in-process execution alone)",
        "server / that (client reuse alone)",
        "overhead = wall - execute, ms (in-process / server)",
        "ComfyUI execute ms (in-process / server)",
        "n",
    ]
    return table(headers, rows)


def cold_starts(root: Path, runs: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    job = {"id": "cold-1", "input": {"workflow": empty_image(prefix="cold"), "delivery": "base64"}}
    worker_child = Child("python -m handler", "worker")
    mine: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for i in range(runs):
        for which in ("ours", "server") if i % 2 == 0 else ("server", "ours"):
            if which == "ours":
                run = worker_child.run(job)
                mine.append((run.ready_s, run.done_s))
                continue
            with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
                server = ComfyServer(Path(tmp), root / "models")
                try:
                    started = time.perf_counter()
                    ready = server.start()
                    run_job(server, empty_image(prefix="cold"))
                    theirs.append((ready, time.perf_counter() - started))
                finally:
                    server.stop()
        print(f"  cold start {i + 1}/{runs}", file=sys.stderr)
    return mine, theirs


def cold_table(mine: list[tuple[float, float]], theirs: list[tuple[float, float]]) -> str:
    mr, md = Summary.of([r for r, _ in mine]), Summary.of([d for _, d in mine])
    tr, td = Summary.of([r for r, _ in theirs]), Summary.of([d for _, d in theirs])
    rows = [
        [
            "`python -m handler` equivalent (in-process)",
            f"{fmt(mr.median)} / {fmt(mr.p90)}",
            "1.00x",
            f"{fmt(md.median)} / {fmt(md.p90)}",
            "1.00x",
            str(md.n),
        ],
        [
            "ComfyUI `main.py` + first round trip",
            f"{fmt(tr.median)} / {fmt(tr.p90)}",
            ratio(tr.median, mr.median),
            f"{fmt(td.median)} / {fmt(td.p90)}",
            ratio(td.median, md.median),
            str(td.n),
        ],
    ]
    headers = ["process", "start -> ready, s (median / p90)", "vs ours", "start -> first job done, s", "vs ours", "n"]
    return table(headers, rows)


def make_payloads(root: Path, video_mb: int) -> list[tuple[str, Path, str]]:
    """A noise PNG of about 1 MB (incompressible, like a photo) and a video-sized file of random bytes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    image = root / "photo.png"
    Image.fromarray(rng.integers(0, 256, (592, 592, 3), dtype=np.uint8)).save(image, compress_level=1)
    video = root / "clip.mp4"
    video.write_bytes(random.Random(0).randbytes(video_mb * 1024 * 1024))
    return [("image", image, "image/png"), ("video", video, "video/mp4")]


def _timed_upload(which: str, path: Path, content_type: str, target: Any, plain: Any) -> tuple[float, str]:
    """One upload; returns (ms, key). ``ours`` is handler.storage.upload; the rest are plain boto3 put_object."""
    from handler.outputs import ProducedFile
    from handler.schema import OutputKind
    from handler.storage import upload

    kind = OutputKind.VIDEO if content_type.startswith("video/") else OutputKind.IMAGE
    key = f"plain/{new_id('up')}/{path.name}"
    started = time.perf_counter()
    if which == "ours":
        [item] = upload([ProducedFile("9", path, kind, content_type)], target, new_id("up"), 3600)
        return (time.perf_counter() - started) * 1000, str(item.key)
    client = plain if which == "plain" else s3_client(target.endpoint_url or "")  # "fresh": a new client
    client.put_object(Bucket=OUR_BUCKET, Key=key, Body=path.read_bytes(), ContentType=content_type)
    return (time.perf_counter() - started) * 1000, key


def uploads(endpoint: str, payloads: list[tuple[str, Path, str]], runs: int) -> str:
    from handler.storage import S3Target

    target = S3Target(OUR_BUCKET, "bench", endpoint, "us-east-1", "test", "test")
    plain: Any = s3_client(endpoint)
    rows = []
    for kind, path, content_type in payloads:
        times: dict[str, list[float]] = {"ours": [], "plain": [], "fresh": [], "client": []}
        for i in range(runs + 1):
            order = ["ours", "plain", "fresh"]
            for which in order[i % 3 :] + order[: i % 3]:  # rotate who goes first
                elapsed, key = _timed_upload(which, path, content_type, target, plain)
                if i > 0:  # the first round warms connections and imports
                    times[which].append(elapsed)
                plain.delete_object(Bucket=OUR_BUCKET, Key=key)  # keep moto's memory flat
            started = time.perf_counter()
            s3_client(endpoint)
            times["client"].append((time.perf_counter() - started) * 1000)
        m, b, f = (Summary.of(times[k]) for k in ("ours", "plain", "fresh"))
        rows.append(
            [
                f"{kind} ({path.stat().st_size / 1e6:.1f} MB)",
                f"{fmt(m.median, 1)} / {fmt(m.p90, 1)}",
                f"{fmt(b.median, 1)} / {fmt(b.p90, 1)}",
                ratio(m.median, b.median),
                f"{fmt(f.median, 1)} / {fmt(f.p90, 1)}",
                fmt(Summary.of(times["client"]).median, 1),
                str(m.n),
            ]
        )
        print(f"  upload: {kind} done", file=sys.stderr)
    headers = [
        "file",
        "storage.upload ms (median / p90)",
        "put_object, client made once, ms (baseline)",
        "ours / baseline",
        "put_object on a new client per upload, ms",
        "creating a boto3 client, ms",
        "n",
    ]
    return table(headers, rows)


def cases(ckpt: str) -> list[Case]:
    return [
        Case("image 64x64 -> base64", lambda i: empty_image(color=i), s3=False),
        Case("image 64x64 -> S3", lambda i: empty_image(color=100_000 + i), s3=True),
        Case("sdxl template 64x64 -> base64", lambda i: template_sampler(ckpt, seed=i), s3=False),
        Case("sdxl template 64x64 -> S3", lambda i: template_sampler(ckpt, seed=100_000 + i), s3=True),
    ]


async def warm_part(root: Path, s3: dict[str, str], runs: int, warmup: int, quick: bool, checkout: Path | None) -> str:
    ckpt = tiny_checkpoint(root / "models")
    server = ComfyServer(root / "server", root / "models")
    server.start()
    try:
        worker = await boot_worker(root)

        def rewrite(graph: dict[str, Any], delivery: Delivery) -> ServerJob:
            return run_job(server, graph, delivery)

        baseline: Baseline = WorkerComfyuiHandler(checkout, server).run_job if checkout else rewrite
        chosen = cases(ckpt)[:2] if quick else cases(ckpt)
        return per_job_table(await per_job(worker, baseline, rewrite, chosen, s3, runs, warmup))
    finally:
        server.stop()


def report(
    per_job_md: str, cold_md: str | None, upload_md: str, command: str, load_before: str, checkout: Path | None
) -> str:
    baseline = (
        f"worker-comfyui's own `handler.handler` (imported from a checkout of runpod-workers/worker-comfyui, "
        f"`{checkout.name}`)"
        if checkout
        else "worker-comfyui's per-job work as `benchmarks/server_path.py` rewrites it step for step"
    )
    parts = [
        "### In-process handler vs ComfyUI's HTTP server (`benchmarks/worker_vs_server.py`)",
        run_stamp(command, load_before) + " ComfyUI's server needs the extra packages in `requirements/bench.txt` "
        "(`pip install -c requirements/constraints.txt -r requirements/bench.txt`).",
        "Per job, both warm, same ComfyUI 0.3.75 and graphs, jobs interleaved (each job a new colour or seed): "
        "our `Worker.handle` (production progress sink posting to a loopback receiver, JSON logs to /dev/null) "
        f"against {baseline}, on `main.py` started with worker-comfyui's flags (`--disable-auto-launch "
        "--disable-metadata --verbose DEBUG --log-stdout`, plus `--cpu`) on 127.0.0.1: its readiness probe "
        "(PID-file liveness + `GET /`) before every job, a websocket per job, `POST /prompt`, websocket messages "
        "until `executing`/`node: null`, `GET /history/{id}`, `GET /view`, then base64 or a temporary file "
        "uploaded with runpod's `rp_upload.upload_image` (a new boto3 client per file). The S3 rows add the same "
        "server path with that client made once: `server / that` is what client reuse alone saves, `that / "
        "in-process` what in-process execution alone saves. `sdxl template` is the production template at the "
        f"preset's settings ({template_steps()}, default negative prompt) on the tests' tiny checkpoint at 64x64. "
        "Overhead = wall time minus ComfyUI's own execution time of that job (in-process: `timings.execute_ms`; "
        "server: the history's execution_start -> execution_success timestamps, 1 ms resolution). S3 is moto's "
        "server in its own process.",
        per_job_md,
    ]
    if cold_md:
        parts += [
            "Cold start to first job done (EmptyImage 64x64, base64), separate processes, runs alternating: the "
            "worker process (import runpod, Worker.start(), one job) against `python main.py` until `GET /` answers "
            "(polled every 50 ms, as worker-comfyui does), then one job through the server path.",
            cold_md,
        ]
    parts += [
        "Output upload to S3 (moto): our `handler.storage.upload` (its cached client, one PUT below 64 MB, "
        "presigned URL) against a plain `put_object` of the file's bytes on a client made once (baseline); the "
        "`put_object` on a new client per upload shows what the client's creation and first request cost.",
        upload_md,
    ]
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cold-runs", type=int, default=None, help="cold starts (default: --runs)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--video-mb", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="image cases only, no cold starts, small video")
    parser.add_argument("--docs", type=Path, default=None, help="markdown file to update (default docs/benchmarks.md)")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--worker-comfyui", type=Path, default=None, help="a worker-comfyui checkout: run its handler")
    args = parser.parse_args()
    load_before = load()
    root = Path(tempfile.mkdtemp(prefix="bench-vs-server-"))
    with moto_server() as endpoint, progress_receiver():
        s3 = prepare_s3(endpoint)
        per_job_md = asyncio.run(warm_part(root, s3, args.runs, args.warmup, args.quick, args.worker_comfyui))
        cold_md = None
        if not args.quick:
            cold_md = cold_table(*cold_starts(root, args.cold_runs or args.runs))
        payloads = make_payloads(root, 1 if args.quick else args.video_mb)
        upload_md = uploads(endpoint, payloads, args.runs)
    command = ("python benchmarks/worker_vs_server.py " + " ".join(sys.argv[1:])).strip()
    body = report(per_job_md, cold_md, upload_md, command, load_before, args.worker_comfyui)
    print(body)
    if not args.no_docs:
        update_docs(DOC_KEY, body, *([args.docs] if args.docs else []))


if __name__ == "__main__":
    main()
