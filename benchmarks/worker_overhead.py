"""What the RunPod worker costs on top of ComfyUI itself: cold start, and per-job handler overhead.

    /work/main/.venv/bin/python benchmarks/worker_overhead.py --runs 20

Cold start: a child process that does what `python -m handler` does (import runpod, build Worker, await start(),
run one job) against a child doing only the bare in-process recipe (sys.path, args.cpu, utils.extra_config,
folder_paths, nodes.init_extra_nodes, one PromptExecutor run); runs are interleaved. Target: within 10 %.

Per job: Worker.handle wall time minus ComfyUI's own execution time (JobOutput.timings.execute_ms), for a small
image (EmptyImage 64x64 -> SaveImage) and the tiny-checkpoint sampler graph (64x64, 4 steps), both base64.
Target: under 1 ms for the image.

Sandbox cost per job (docs/security.md): the time spent creating and removing the job's folders, switching
ComfyUI's folders, and checking the graph (node policy, file inputs, budgets, output names), timed around those
calls in the same runs; reported against the job's wall time without it (wall - sandbox). Removing the job's folders
runs after the response (off the job's path) and is reported apart; the benchmark waits for it between jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    COMFYUI,
    Summary,
    fmt,
    load,
    production_logs_to_devnull,
    ratio,
    run_stamp,
    table,
    tiny_checkpoint,
    update_docs,
)
from benchmarks.timing import Child, ColdRun, empty_image, new_id, sampler

DOC_KEY = "worker-overhead"
COLD_CHILDREN = [
    Child("bare ComfyUI recipe (baseline)", "bare"),
    Child("Worker.start() without `import runpod`", "worker", {"BENCH_IMPORT_RUNPOD": "0"}),
    Child("`python -m handler` equivalent (import runpod + Worker.start())", "worker"),
]


@dataclass
class JobSample:
    wall_ms: float
    execute_ms: float
    validate_ms: float
    prepare_ms: float
    upload_ms: float
    sandbox_ms: float = 0.0
    removal_ms: float = 0.0

    @property
    def overhead_ms(self) -> float:
        return self.wall_ms - self.execute_ms

    @property
    def handler_ms(self) -> float:
        return self.wall_ms - self.execute_ms - self.validate_ms


def cold_starts(runs: int) -> dict[str, list[ColdRun]]:
    job = {"id": "cold-1", "input": {"workflow": empty_image(prefix="cold"), "delivery": "base64"}}
    results: dict[str, list[ColdRun]] = {child.name: [] for child in COLD_CHILDREN}
    for i in range(runs):
        order = COLD_CHILDREN if i % 2 == 0 else COLD_CHILDREN[::-1]  # alternate so drift hits both alike
        for child in order:
            results[child.name].append(child.run(job))
        print(f"  cold start {i + 1}/{runs}", file=sys.stderr)
    return results


def cold_table(results: dict[str, list[ColdRun]]) -> str:
    base = results[COLD_CHILDREN[0].name]
    base_ready = Summary.of([r.ready_s for r in base]).median
    base_done = Summary.of([r.done_s for r in base]).median
    rows = []
    for name, runs in results.items():
        ready, done = Summary.of([r.ready_s for r in runs]), Summary.of([r.done_s for r in runs])
        rows.append(
            [
                name,
                f"{fmt(ready.median)} / {fmt(ready.p90)}",
                ratio(ready.median, base_ready),
                f"{fmt(done.median)} / {fmt(done.p90)}",
                ratio(done.median, base_done),
                str(ready.n),
            ]
        )
    headers = ["process", "start -> ready, s (median / p90)", "vs bare", "start -> first job done, s", "vs bare", "n"]
    return table(headers, rows)


@dataclass
class SandboxClock:
    """Accumulates the time spent in the per-job sandbox calls (wrapped for the benchmark only)."""

    total_s: float = 0.0
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def wrap(self, owner: Any, name: str, context: bool = False) -> None:
        original = getattr(owner, name)
        clock = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                clock.total_s += time.perf_counter() - started

        @contextlib.contextmanager
        def timed_context(*args: Any, **kwargs: Any) -> Iterator[None]:
            started = time.perf_counter()
            manager = original(*args, **kwargs)
            manager.__enter__()
            clock.total_s += time.perf_counter() - started
            try:
                yield
            finally:
                started = time.perf_counter()
                manager.__exit__(None, None, None)
                clock.total_s += time.perf_counter() - started

        setattr(owner, name, timed_context if context else timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def take_ms(self) -> float:
        taken, self.total_s = self.total_s * 1000, 0.0
        return taken


def sandbox_clocks() -> tuple[SandboxClock, SandboxClock]:
    """(the sandbox on the job's path, the folder removal that runs after the response)."""
    from handler.engine import ComfyEngine
    from handler.files import JobFiles
    from handler.sandbox import JobGuard

    clock, removal = SandboxClock(), SandboxClock()
    clock.wrap(JobFiles, "create")
    clock.wrap(JobGuard, "__call__")
    clock.wrap(ComfyEngine, "_job_folders", context=True)
    removal.wrap(JobFiles, "cleanup")
    return clock, removal


SANDBOX, REMOVAL = SandboxClock(), SandboxClock()


async def job_samples(
    worker: Any, make_input: Callable[[int], dict[str, Any]], runs: int, warmup: int
) -> list[JobSample]:
    samples = []
    for i in range(warmup + runs):
        job = {"id": new_id("job"), "input": make_input(i)}
        SANDBOX.take_ms(), REMOVAL.take_ms()
        started = time.perf_counter()
        result = await worker.handle(job)
        wall = (time.perf_counter() - started) * 1000
        await worker.cleaned()
        if "error" in result:
            raise RuntimeError(result["error"])
        t = result["timings"]
        if i >= warmup:
            sandbox, removal = SANDBOX.take_ms(), REMOVAL.take_ms()
            timings = (t["execute_ms"], t["validate_ms"], t["prepare_ms"], t["upload_ms"])
            samples.append(JobSample(wall, *timings, sandbox_ms=sandbox, removal_ms=removal))
    return samples


def job_table(rows_in: dict[str, list[JobSample]]) -> str:
    rows = []
    for name, samples in rows_in.items():
        wall = Summary.of([s.wall_ms for s in samples])
        execute = Summary.of([s.execute_ms for s in samples])
        over = Summary.of([s.overhead_ms for s in samples])
        handler = Summary.of([s.handler_ms for s in samples])
        rows.append(
            [
                name,
                f"{fmt(wall.median)} / {fmt(wall.p90)}",
                fmt(execute.median),
                f"**{fmt(over.median)}** / {fmt(over.p90)}",
                fmt(Summary.of([s.validate_ms for s in samples]).median),
                f"{fmt(handler.median)} / {fmt(handler.p90)}",
                fmt(Summary.of([s.prepare_ms for s in samples]).median),
                fmt(Summary.of([s.upload_ms for s in samples]).median),
                fmt(Summary.of([s.sandbox_ms for s in samples]).median),
                fmt(Summary.of([s.removal_ms for s in samples]).median),
                ratio(wall.median, Summary.of([s.wall_ms - s.sandbox_ms for s in samples]).median),
                ratio(wall.median, execute.median),
                str(wall.n),
            ]
        )
    headers = [
        "workflow",
        "Worker.handle wall ms (median / p90)",
        "ComfyUI execute ms",
        "overhead = wall - execute, ms (median / p90)",
        "of which validate ms",
        "handler only (wall - validate - execute) ms",
        "prepare ms",
        "deliver ms",
        "of which sandbox ms",
        "folder removal ms (after the response)",
        "wall / wall without sandbox",
        "wall / execute",
        "n",
    ]
    return table(headers, rows)


async def per_job(runs: int, warmup: int) -> dict[str, list[JobSample]]:
    from handler.settings import WorkerSettings
    from handler.worker import Worker

    root = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    settings = WorkerSettings(
        comfyui_path=COMFYUI, device="cpu", work_dir=root / "work", models_dir=root / "models", s3_bucket=None
    )
    ckpt = tiny_checkpoint(root / "models")
    production_logs_to_devnull(settings.log_level, settings.log_json)
    worker = Worker(settings, progress_sink=lambda _job, _progress: None)
    await worker.start()
    global SANDBOX, REMOVAL
    SANDBOX, REMOVAL = sandbox_clocks()
    return {
        "image 64x64 -> base64": await job_samples(
            worker, lambda i: {"workflow": empty_image(color=i), "delivery": "base64"}, runs, warmup
        ),
        "tiny sampler 64x64, 4 steps -> base64": await job_samples(
            worker, lambda i: {"workflow": sampler(ckpt, seed=i), "delivery": "base64"}, runs, warmup
        ),
    }


def report(cold: str | None, jobs: str, command: str, load_before: str) -> str:
    parts = [
        "### Worker overhead (`benchmarks/worker_overhead.py`)",
        run_stamp(command, load_before),
    ]
    if cold:
        parts += [
            "Cold start: separate processes, spawned from the benchmark, timed until they print READY (engine "
            "booted, nodes loaded) and DONE (first EmptyImage 64x64 job, base64, finished). Runs alternate between "
            "the variants. Target: `python -m handler` within 10 % of the bare recipe.",
            cold,
        ]
    parts += [
        "Per job, in one warm process: `Worker.handle` wall time minus ComfyUI's own execution time "
        "(`timings.execute_ms`). Production JSON logging on (to /dev/null), progress sink a no-op. Each job has a "
        "new id, colour or seed, so ComfyUI's cache never skips the work. Target: overhead under 1 ms for the image. "
        "Sandbox = the job's folders made and removed, ComfyUI's folders switched, the graph checked (docs/security.md), "
        "timed around those calls in the same runs.",
        jobs,
    ]
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip the cold starts (smoke test)")
    parser.add_argument("--docs", type=Path, default=None, help="markdown file to update (default docs/benchmarks.md)")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    load_before = load()
    cold = None if args.quick else cold_table(cold_starts(args.runs))
    jobs = job_table(asyncio.run(per_job(args.runs, args.warmup)))
    command = "python benchmarks/worker_overhead.py " + " ".join(sys.argv[1:])
    body = report(cold, jobs, command.strip(), load_before)
    print(body)
    if not args.no_docs:
        update_docs(DOC_KEY, body, *([args.docs] if args.docs else []))


if __name__ == "__main__":
    main()
