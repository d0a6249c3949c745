"""What live previews cost per sampler step: the same sampler job with and without previews, in one process.

    /work/main/.venv/bin/python benchmarks/preview_cost.py --runs 10

One warm worker on the tests' tiny checkpoint (CPU), progress reported at every step to a no-op sink. Variants,
interleaved job by job (a new seed each job, so ComfyUI's cache never skips the sampler):
  - no previewer: what PREVIEWS=off installs (the sampler gets no previewer at all);
  - previews at most once a second: production (PREVIEWS=presets, PREVIEW_INTERVAL_S=1);
  - a preview at every step: the worst case (PREVIEW_INTERVAL_S=0), each step decoded and JPEG-encoded.
The previewer is ComfyUI's latent-to-RGB approximation (no TAESD decoder is installed here), as in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    COMFYUI,
    Summary,
    _cpu_model,
    fmt,
    load,
    production_logs_to_devnull,
    ratio,
    run_stamp,
    table,
    tiny_checkpoint,
    write_marked,
)
from benchmarks.timing import new_id, sampler

DOC_BEGIN, DOC_END = "<!-- bench:preview-cost:start -->", "<!-- bench:preview-cost:end -->"
# (name, previewer installed, preview interval in seconds)
VARIANTS: list[tuple[str, bool, float]] = [
    ("no previewer (baseline)", False, 1.0),
    ("previews at most once a second (production)", True, 1.0),
    ("a preview at every step (worst case)", True, 0.0),
]


async def measure(runs: int, warmup: int, steps: int, size: int) -> dict[str, list[float]]:
    """Execute time (ms) of each variant's jobs, as the worker reports it (timings.execute_ms)."""
    from handler import previews
    from handler.settings import WorkerSettings
    from handler.worker import Worker

    root = Path(tempfile.mkdtemp(prefix="bench-previews-"))
    settings = WorkerSettings(
        comfyui_path=COMFYUI,
        device="cpu",
        work_dir=root / "work",
        models_dir=root / "models",
        s3_bucket=None,
        progress_interval_s=0.0,
        previews="all",
    )
    ckpt = tiny_checkpoint(root / "models")
    production_logs_to_devnull(settings.log_level, settings.log_json)
    sent: list[dict[str, Any]] = []
    worker = Worker(settings, progress_sink=lambda _job, progress: sent.append(progress))
    await worker.start()
    results: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
    results["_preview_ms"] = _time_each_preview()
    seed = 0
    for i in range(warmup + runs):
        order = VARIANTS if i % 2 == 0 else VARIANTS[::-1]  # alternate so drift hits every variant alike
        for name, installed, interval in order:
            previews.install(enabled=installed)
            worker.settings.preview_interval_s = interval
            seed += 1
            job = {"workflow": sampler(ckpt, seed=seed, steps=steps, size=size)}
            result = await worker.handle({"id": new_id("preview"), "input": {**job, "delivery": "base64"}})
            assert "error" not in result, result
            if i >= warmup:
                results[name].append(float(result["timings"]["execute_ms"]))
        print(f"  run {i + 1}/{warmup + runs}", file=sys.stderr)
    sizes = [len(p["preview"]) * 3 // 4 for p in sent if "preview" in p]
    print(f"  preview JPEG size: median {Summary.of(sizes).median / 1024:.1f} KB over {len(sizes)}", file=sys.stderr)
    results["_jpeg_bytes"] = [float(s) for s in sizes]
    return results


def _time_each_preview() -> list[float]:
    """Wrap LazyPreview.jpeg_base64 to record what one sent preview costs (decode, resize, JPEG, base64)."""
    from handler import previews

    durations: list[float] = []
    encode = previews.LazyPreview.jpeg_base64

    def timed(self: previews.LazyPreview) -> str:
        started = time.perf_counter()
        try:
            return encode(self)
        finally:
            durations.append((time.perf_counter() - started) * 1000)

    previews.LazyPreview.jpeg_base64 = timed  # type: ignore[method-assign]
    return durations


def report(results: dict[str, list[float]], steps: int, size: int, command: str, load_before: str) -> str:
    base = Summary.of(results[VARIANTS[0][0]])
    base_min = min(results[VARIANTS[0][0]])
    rows = []
    for name, _, _ in VARIANTS:
        s, fastest = Summary.of(results[name]), min(results[name])
        rows.append(
            [
                name,
                f"{fmt(s.median, 1)} / {fmt(s.p90, 1)}",
                fmt(fastest, 1),
                f"{ratio(s.median, base.median)} / {ratio(fastest, base_min)}",
                f"**{fmt((s.median - base.median) / steps)}** / {fmt((fastest - base_min) / steps)}",
                str(s.n),
            ]
        )
    headers = [
        "variant",
        "execute ms (median / p90)",
        "fastest ms",
        "vs baseline (median / fastest)",
        "extra ms per step (median / fastest)",
        "n",
    ]
    jpeg = Summary.of(results["_jpeg_bytes"])
    one = Summary.of(results["_preview_ms"])
    return "\n\n".join(
        [
            "### Live preview cost (`benchmarks/preview_cost.py`)",
            run_stamp(command, load_before) + f" Machine: {os.cpu_count()} x {_cpu_model()}.",
            f"The tiny-checkpoint sampler graph at {size}x{size}, {steps} steps, on the CPU; progress reported at "
            "every step; variants interleaved job by job in one warm worker. Previews use ComfyUI's latent-to-RGB "
            "approximation (no TAESD decoder installed), as CI does; the TAESD-XL decode on a GPU was not measured. "
            f"Preview JPEGs: median {jpeg.median / 1024:.1f} KB (256 px on the longer side). One sent preview "
            f"(decode, resize, JPEG, base64), timed inside the jobs: median {fmt(one.median)} ms, p90 "
            f"{fmt(one.p90)} ms over {one.n}. Only the previews actually sent are decoded (in production at most one "
            "a second). The machine is shared: under load, job times spread widely, so the fastest run of each variant "
            "is shown beside the median.",
            table(headers, rows),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--docs", type=Path, default=None, help="markdown file to update (default docs/benchmarks.md)")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    load_before = load()
    started = time.perf_counter()
    results = asyncio.run(measure(args.runs, args.warmup, args.steps, args.size))
    command = "python benchmarks/preview_cost.py " + " ".join(sys.argv[1:])
    body = report(results, args.steps, args.size, command.strip(), load_before)
    print(body)
    print(f"  took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if not args.no_docs:
        write_marked(DOC_BEGIN, DOC_END, body, heading="Live previews", **({"path": args.docs} if args.docs else {}))


if __name__ == "__main__":
    main()
