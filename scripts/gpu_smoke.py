"""GPU acceptance check: run both presets through the real worker and report cold start, load and job times.

Run it where the weights are, e.g. on a RunPod GPU pod started from the worker image with the
network volume attached (docs/deploy.md, "Acceptance check")::

    python scripts/gpu_smoke.py --face face.jpg --out /tmp/smoke

It builds ``handler.worker.Worker`` from the environment (WorkerSettings, as the endpoint does),
boots it (including WARMUP), then runs every job ``--runs`` times: the first run of a preset
includes loading its models, later runs are warm. Outputs are saved under ``--out``; a summary
with process-start-to-ready time, per-job times, the model-load estimate (first minus warm) and
peak GPU memory is printed and written to ``summary.json``. Exit status 1 if any job failed.

Jobs: the ``sdxl`` preset, the animation preset (``--animate-preset``, given ``--face``), and
any ``--job FILE`` (a RunPod job input as JSON, e.g. a raw workflow).

With no weights at hand (a GPU box that may reach nothing outside), ``--random-weights`` builds full-size
SDXL-architecture and LivePortrait networks with random weights on the machine itself and runs them through the
production presets, the installed node packs and ComfyUI's server path (benchmarks/random_smoke.py)::

    python scripts/gpu_smoke.py --random-weights --out /tmp/smoke

``--scale tiny --allow-cpu`` runs the same path with the tests' small models on a CPU (the tests do).
"""

from __future__ import annotations

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402  (the clock starts before any import, as a worker's cold start does)
import asyncio  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class GpuMemory:
    """Peak device memory in use (all allocators: torch, onnxruntime, ...), sampled every 50 ms."""

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.enabled = torch.cuda.is_available()
        self.peak_used = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _used(self) -> int:
        free, total = self.torch.cuda.mem_get_info(0)
        return int(total - free)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_used = max(self.peak_used, self._used())

    def start(self) -> None:
        if self.enabled:
            self._thread.start()

    def reset(self) -> None:
        if self.enabled:
            self.torch.cuda.reset_peak_memory_stats()
            self.peak_used = self._used()

    def snapshot(self) -> dict[str, float]:
        if not self.enabled:
            return {}
        gib = 2**30
        return {
            "peak_device_used_gib": round(max(self.peak_used, self._used()) / gib, 2),
            "peak_torch_allocated_gib": round(self.torch.cuda.max_memory_allocated() / gib, 2),
            "peak_torch_reserved_gib": round(self.torch.cuda.max_memory_reserved() / gib, 2),
        }

    def stop(self) -> None:
        self._stop.set()


def default_jobs(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    jobs: list[tuple[str, dict[str, Any]]] = []
    if not args.no_sdxl:
        params = {"prompt": args.prompt, "seed": 1234, "steps": args.steps, "aspect_ratio": "1:1"}
        jobs.append(("sdxl", {"preset": "sdxl", "params": params, "delivery": "base64"}))
    if args.face is not None:
        image = base64.b64encode(args.face.read_bytes()).decode()
        params = json.loads(args.animate_params)
        job = {
            "preset": args.animate_preset,
            "params": params,
            "images": [{"name": args.face.name, "image": image}],
            "delivery": "base64",
        }
        jobs.append((args.animate_preset, job))
    for path in args.job:
        jobs.append((path.stem, json.loads(path.read_text())))
    return jobs


def check_presets(jobs: list[tuple[str, dict[str, Any]]]) -> None:
    try:
        from workflows.presets import PRESETS
    except ImportError:  # a build without the preset catalogue: the worker reports unknown presets itself
        return

    for label, job in jobs:
        name = job.get("preset")
        if name is not None and name not in PRESETS:
            raise SystemExit(f"job {label}: no preset named {name!r}; this build has {sorted(PRESETS)}")


def save_outputs(result: dict[str, Any], folder: Path) -> list[str]:
    """Write base64 outputs as files, fetch URL outputs; return the saved paths."""
    import httpx

    folder.mkdir(parents=True, exist_ok=True)
    saved: list[str] = []
    for index, item in enumerate(result.get("outputs", [])):
        name = Path(item.get("filename") or f"output-{index}").name
        target = folder / name
        if item.get("data"):
            target.write_bytes(base64.b64decode(item["data"]))
        elif item.get("url"):
            response = httpx.get(item["url"], timeout=120, follow_redirects=True)
            response.raise_for_status()
            target.write_bytes(response.content)
        elif item.get("text") is not None:
            target = target.with_suffix(".txt")
            target.write_text(item["text"])
        else:
            continue
        saved.append(str(target))
    return saved


async def run_jobs(args: argparse.Namespace, jobs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    from handler.settings import WorkerSettings
    from handler.worker import Worker

    memory = GpuMemory()
    memory.start()
    settings = WorkerSettings()
    worker = Worker(settings, progress_sink=lambda _job, _progress: None)
    boot_started = time.perf_counter()
    await worker.start()
    ready = time.perf_counter()
    summary: dict[str, Any] = {
        "cold_start_s": round(ready - PROCESS_START, 2),
        "boot_and_warmup_s": round(ready - boot_started, 2),
        "warmup": settings.warmup,
        "device": memory.torch.cuda.get_device_name(0) if memory.enabled else "cpu",
        "after_boot": memory.snapshot(),
        "jobs": [],
    }
    for label, job_input in jobs:
        for run in range(1, args.runs + 1):
            memory.reset()
            started = time.perf_counter()
            result = await worker.handle({"id": f"smoke-{label}-{run}", "input": job_input})
            wall = time.perf_counter() - started
            record: dict[str, Any] = {"job": label, "run": run, "wall_s": round(wall, 3), **memory.snapshot()}
            if "error" in result:
                record["error"] = json.loads(result["error"])
            else:
                record["timings_ms"] = result.get("timings", {})
                record["saved"] = save_outputs(result, args.out / f"{label}-{run}")
            summary["jobs"].append(record)
            print(json.dumps(record), flush=True)
    memory.stop()
    summary["model_load_estimate_s"] = load_estimates(summary["jobs"])
    return summary


def load_estimates(records: list[dict[str, Any]]) -> dict[str, float]:
    """First run minus the fastest warm run, per job: the time spent loading its models."""
    estimates: dict[str, float] = {}
    for label in dict.fromkeys(r["job"] for r in records):
        runs = [r for r in records if r["job"] == label and "error" not in r]
        first = next((r for r in runs if r["run"] == 1), None)
        warm = [r["wall_s"] for r in runs if r["run"] > 1]
        if first is not None and warm:
            estimates[label] = round(max(0.0, first["wall_s"] - min(warm)), 2)
    return estimates


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("smoke-out"), help="where outputs and summary.json go")
    parser.add_argument("--runs", type=int, default=2, help="runs per job (>= 2 to separate model load)")
    parser.add_argument("--prompt", default="a lighthouse on a cliff at sunset, photograph, detailed")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--no-sdxl", action="store_true", help="skip the sdxl preset")
    parser.add_argument("--face", type=Path, help="a face photo: runs the animation preset")
    parser.add_argument("--animate-preset", default="liveportrait", help="name of the animation preset")
    parser.add_argument(
        "--animate-params", default='{"duration_s": 10}', help="its params, as JSON (see docs/presets.md)"
    )
    parser.add_argument("--job", type=Path, action="append", default=[], help="an extra job input JSON file")
    parser.add_argument("--allow-cpu", action="store_true", help="run without a GPU (plumbing check only)")
    random = parser.add_argument_group("--random-weights (no downloads)")
    random.add_argument("--random-weights", action="store_true", help="build random-weight models here and run them")
    random.add_argument("--scale", choices=("full", "tiny"), default="full", help="full: production sizes (GPU)")
    random.add_argument("--clip-seconds", type=float, default=None, help="LivePortrait clip (default 20; tiny 0.4)")
    random.add_argument("--landmark", type=Path, help="the real landmark.onnx, for the KJ pack's own cropper")
    random.add_argument("--no-server-path", action="store_true", help="skip the ComfyUI server comparison")
    return parser.parse_args(argv)


def main_random(args: argparse.Namespace) -> int:
    from benchmarks.random_smoke import failed, markdown, run

    memory = GpuMemory()
    memory.start()
    summary = asyncio.run(run(args, PROCESS_START, memory))
    memory.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    table = markdown(summary)
    (args.out / "summary.md").write_text(table + "\n")
    print(table)
    return 1 if failed(summary) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.random_weights:
        import torch

        if not torch.cuda.is_available() and not args.allow_cpu:
            raise SystemExit("no CUDA device: this is the GPU acceptance check (--allow-cpu for a plumbing run)")
        return main_random(args)
    jobs = default_jobs(args)
    if not jobs:
        raise SystemExit("nothing to run: give --face, --job, or leave sdxl on")
    check_presets(jobs)
    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        raise SystemExit("no CUDA device: this is the GPU acceptance check (--allow-cpu for a plumbing run)")
    summary = asyncio.run(run_jobs(args, jobs))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "jobs"}, indent=2))
    return 1 if any("error" in record for record in summary["jobs"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
