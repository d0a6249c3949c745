"""scripts/gpu_smoke.py --random-weights: the GPU acceptance run that needs no downloads.

1. A child process builds the models on this machine (benchmarks/random_weights.py): full scale is ComfyUI's own
   SDXL architecture and LivePortrait at the KJ pack's sizes; tiny scale the tests' small models (CPU tests).
2. The real Worker boots with them in a temporary models folder, with every node pack this ComfyUI has installed
   (the KJ pack at its pinned commit in the worker image). KJ nodes that are missing or cannot run on random
   weights are replaced by stand-ins, and the summary says which ran as what.
3. SDXL: the production ``sdxl`` preset at 1024x1024 and the preset's own steps (tiny: the same template at 64x64)
   ``--runs`` times; the first run includes loading the checkpoint. Seconds, peak VRAM, cold start to first image.
4. LivePortrait: the production ``liveportrait`` preset, a 20 s clip (tiny: the template, 0.4 s): ms per frame and
   peak VRAM.
5. The same SDXL graph through ComfyUI's own server, driven as worker-comfyui drives it (benchmarks/server_path.py).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SDXL_PROMPT = "a lighthouse on a cliff at sunset, photograph, detailed"


def build_models(models: Path, scale: str, device: str) -> tuple[dict[str, str], float]:
    started = time.perf_counter()
    argv = [sys.executable, "-m", "benchmarks.random_weights", str(models), "--scale", scale, "--device", device]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"building the random-weight models failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def photo_b64(face: Path | None) -> str:
    """``--face`` if given, else scikit-image's astronaut (any face will do: the weights are random)."""
    if face is not None:
        return base64.b64encode(face.read_bytes()).decode()
    import skimage.data
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(buf, "JPEG", quality=92)
    return base64.b64encode(buf.getvalue()).decode()


def sdxl_graph(checkpoint: str, scale: str, seed: int) -> dict[str, Any]:
    """What the worker runs for the sdxl preset (tiny: the same template at 64x64, the preset's steps)."""
    from workflows.presets import PRESETS

    preset = PRESETS["sdxl"]
    graph = preset.render(preset.validate({"prompt": SDXL_PROMPT, "seed": seed, "aspect_ratio": "1:1"}))
    graph["4"]["inputs"]["ckpt_name"] = checkpoint
    if scale == "tiny":
        graph["5"]["inputs"].update(width=64, height=64)
    return graph


def sdxl_job(checkpoint: str, scale: str, seed: int) -> dict[str, Any]:
    if scale == "full":  # the preset path itself: params -> template, checkpoint from WorkerSettings
        params = {"prompt": SDXL_PROMPT, "seed": seed, "aspect_ratio": "1:1"}
        return {"preset": "sdxl", "params": params, "delivery": "base64"}
    return {"workflow": sdxl_graph(checkpoint, scale, seed), "delivery": "base64"}


def liveportrait_job(scale: str, seconds: float, face: Path | None) -> tuple[dict[str, Any], int]:
    """The preset job (full) or its template with a short clip (tiny); returns it and its frame count."""
    from workflows.presets import PRESETS

    photo = photo_b64(face)
    if scale == "full":
        params = {"photo": photo, "duration": int(seconds), "seed": 1, "prompt": "calm"}
        fps = PRESETS["liveportrait"].validate(params).fps  # type: ignore[attr-defined]
        return {"preset": "liveportrait", "params": params, "delivery": "base64"}, int(seconds) * fps
    preset = PRESETS["liveportrait"]
    graph = preset.render(preset.validate({"photo": "unused", "seed": 1, "prompt": "calm"}))
    graph["5"]["inputs"].update(duration_s=seconds, fps=10)
    job = {"workflow": graph, "images": [{"name": "photo.png", "image": photo}], "delivery": "base64"}
    return job, round(seconds * 10)


async def timed(worker: Any, memory: Any, job_id: str, job_input: dict[str, Any]) -> dict[str, Any]:
    memory.reset()
    started = time.perf_counter()
    result = await worker.handle({"id": job_id, "input": job_input})
    record: dict[str, Any] = {"wall_s": round(time.perf_counter() - started, 3), **memory.snapshot()}
    if "error" in result:
        record["error"] = json.loads(result["error"])
    else:
        record["timings_ms"] = result.get("timings", {})
        record["output_bytes"] = sum(len(base64.b64decode(o.get("data") or "")) for o in result.get("outputs", []))
    return record


async def run(args: argparse.Namespace, process_start: float, memory: Any) -> dict[str, Any]:
    import torch

    import benchmarks.kj_standins  # noqa: F401  imports tests.liveportrait before ComfyUI's own `tests` shadows it

    root = Path(tempfile.mkdtemp(prefix="gpu-smoke-"))
    models = root / "models"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    built, build_s = build_models(models, args.scale, device)
    if args.landmark is not None:  # the one real file the KJ cropper needs (it is not a network we can randomise)
        (models / "liveportrait" / "landmark.onnx").symlink_to(args.landmark.resolve())
    summary: dict[str, Any] = {"mode": "random-weights", "scale": args.scale, "build_s": round(build_s, 1)}
    worker, boot_s = await boot(root, models, built["checkpoint"])
    summary["boot_s"] = round(boot_s, 2)
    summary["node_packs"] = register_liveportrait(worker, models, args)
    summary["sdxl"] = await sdxl_runs(worker, memory, built["checkpoint"], args)
    # process start -> first image (imports, boot, checkpoint load, job), less the wait for the weights' build
    first_image_at = summary["sdxl"].pop("first_image_at")
    summary["cold_start_to_first_image_s"] = round(first_image_at - process_start - build_s, 2)
    summary["liveportrait"] = await liveportrait_run(worker, memory, args)
    await worker.engine.free_memory()  # the server below loads its own copy
    try:
        summary["server_path"] = server_path(models, built["checkpoint"], args, device, memory)
    except Exception as exc:  # the comparison failing must not lose the figures above
        summary["server_path"] = {"error": f"{type(exc).__name__}: {exc}"}
    summary["device"] = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    return summary


async def boot(root: Path, models: Path, checkpoint: str) -> tuple[Any, float]:
    from handler.settings import WorkerSettings
    from handler.worker import Worker

    settings = WorkerSettings(
        work_dir=root / "work", models_dir=models, sdxl_checkpoint=checkpoint, warmup=None, s3_bucket=None
    )
    worker = Worker(settings, progress_sink=lambda _job, _progress: None)
    started = time.perf_counter()
    await worker.start()
    worker.engine.comfy.folder_paths.models_dir = str(models)  # where the KJ loader looks for liveportrait/
    return worker, time.perf_counter() - started


def register_liveportrait(worker: Any, models: Path, args: argparse.Namespace) -> dict[str, str]:
    from benchmarks.kj_standins import register

    mappings = worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS
    real_cropper = (models / "liveportrait" / "landmark.onnx").exists()
    return register(mappings, models / "liveportrait", args.scale, real_cropper)


async def sdxl_runs(worker: Any, memory: Any, checkpoint: str, args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for run_index in range(1, args.runs + 1):
        record = await timed(worker, memory, f"smoke-sdxl-{run_index}", sdxl_job(checkpoint, args.scale, run_index))
        runs.append({"run": run_index, **record})
        if run_index == 1:
            first_image_at = time.perf_counter()
        print(json.dumps({"sdxl": runs[-1]}), flush=True)
    graph = sdxl_graph(checkpoint, args.scale, 1)["3"]["inputs"]
    size = sdxl_graph(checkpoint, args.scale, 1)["5"]["inputs"]
    return {
        "size": f"{size['width']}x{size['height']}",
        "steps": graph["steps"],
        "sampler": f"{graph['sampler_name']}/{graph['scheduler']}, cfg {graph['cfg']}",
        "runs": runs,
        "first_image_at": first_image_at,
    }


async def liveportrait_run(worker: Any, memory: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The clip ``--runs`` times: the first loads the networks, later ones are warm."""
    seconds = args.clip_seconds or (20.0 if args.scale == "full" else 0.4)
    job, frames = liveportrait_job(args.scale, seconds, args.face)
    runs = []
    for run_index in range(1, args.runs + 1):
        record = await timed(worker, memory, f"smoke-liveportrait-{run_index}", job)
        if "error" not in record:
            record["ms_per_frame"] = round(record["timings_ms"]["execute_ms"] / frames, 1)
        runs.append({"run": run_index, **record})
        print(json.dumps({"liveportrait": runs[-1]}), flush=True)
    return {"clip_s": seconds, "frames": frames, "runs": runs}


def server_path(models: Path, checkpoint: str, args: argparse.Namespace, device: str, memory: Any) -> dict[str, Any]:
    """The same SDXL graph through ComfyUI's server, as worker-comfyui's handler drives it."""
    if args.no_server_path:
        return {"skipped": "--no-server-path"}
    try:
        from benchmarks.server_path import ComfyServer, run_job
    except ImportError as exc:
        return {"skipped": f"ComfyUI's server needs requirements/bench.txt ({exc})"}
    server = ComfyServer(Path(tempfile.mkdtemp(prefix="gpu-smoke-server-")), models, cpu=device == "cpu")
    memory.reset()
    started = time.perf_counter()
    try:
        ready_s = server.start()
        runs = []
        for run_index in range(1, args.runs + 1):
            job = run_job(server, sdxl_graph(checkpoint, args.scale, 100 + run_index))
            runs.append({"run": run_index, "wall_s": round(job.wall_ms / 1000, 3), "execute_ms": job.execute_ms})
            if run_index == 1:
                first_image_s = time.perf_counter() - started
            print(json.dumps({"server_path": runs[-1]}), flush=True)
    finally:
        server.stop()
    return {
        "ready_s": round(ready_s, 2),
        "start_to_first_image_s": round(first_image_s, 2),
        "runs": runs,
        **memory.snapshot(),
    }


def markdown(summary: dict[str, Any]) -> str:
    """The rows to paste into docs/benchmarks.md."""
    sdxl, lp, server = summary["sdxl"], summary["liveportrait"], summary["server_path"]
    warm = [r["wall_s"] for r in sdxl["runs"][1:] if "error" not in r] or [sdxl["runs"][0]["wall_s"]]
    lines = [
        f"Device: {summary['device']}; scale {summary['scale']}; random weights built in {summary['build_s']} s.",
        "",
        "| what | value |",
        "|---|---|",
        f"| SDXL {sdxl['size']}, {sdxl['steps']} steps ({sdxl['sampler']}), warm | {min(warm)} s |",
        f"| SDXL first job (loads the checkpoint) | {sdxl['runs'][0]['wall_s']} s |",
        f"| SDXL peak VRAM (torch allocated / device used) | "
        f"{sdxl['runs'][-1].get('peak_torch_allocated_gib', '-')} / {sdxl['runs'][-1].get('peak_device_used_gib', '-')}"
        " GiB |",
        f"| cold start to first image (process start, boot, checkpoint load, job) | "
        f"{summary['cold_start_to_first_image_s']} s |",
        f"| LivePortrait {lp['clip_s']} s clip ({lp['frames']} frames), first run (loads the networks) | "
        f"{lp['runs'][0].get('ms_per_frame', 'failed')} ms/frame |",
        f"| LivePortrait same clip, warm | {lp['runs'][-1].get('ms_per_frame', 'failed')} ms/frame |",
        f"| LivePortrait peak VRAM (torch allocated / device used) | "
        f"{lp['runs'][-1].get('peak_torch_allocated_gib', '-')} / {lp['runs'][-1].get('peak_device_used_gib', '-')} GiB |",
    ]
    if "runs" in server:
        server_warm = [r["wall_s"] for r in server["runs"][1:]] or [server["runs"][0]["wall_s"]]
        lines.append(
            f"| same SDXL job, ComfyUI server path (worker-comfyui's per-job work), warm | {min(server_warm)} s |"
        )
        lines.append(f"| server path: start to first image | {server['start_to_first_image_s']} s |")
    else:
        lines.append(f"| server path | {server.get('skipped') or 'failed: ' + str(server.get('error'))} |")
    lines += ["", "Node packs: " + "; ".join(f"{k}: {v}" for k, v in summary["node_packs"].items())]
    return "\n".join(lines)


def failed(summary: dict[str, Any]) -> bool:
    return any("error" in r for part in ("sdxl", "liveportrait") for r in summary[part]["runs"])
