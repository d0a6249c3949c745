"""GPU smoke check of the liveportrait preset with the real KJ pack and weights (run on a GPU worker image).

Runs one preset job through the real Worker (face pre-check, KJ cropper, our idle node, SaveVideo), writes the
clip to --out, and prints what to look at. Exit code 1 when the job fails or the MP4 is not what it should be.

    python benchmarks/liveportrait_gpu_smoke.py --photo face.jpg --duration 10 --out /tmp/smoke.mp4
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def photo_b64(path: str | None) -> str:
    if path:
        return base64.b64encode(Path(path).read_bytes()).decode()
    import skimage.data
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(buf, "JPEG", quality=92)
    return base64.b64encode(buf.getvalue()).decode()


async def run_job(args: argparse.Namespace) -> tuple[dict[str, object], float, float]:
    import torch

    from handler.settings import WorkerSettings
    from handler.worker import Worker

    worker = Worker(WorkerSettings(s3_bucket=None))
    await worker.start()
    params = {"photo": photo_b64(args.photo), "duration": args.duration, "seed": args.seed, "prompt": args.prompt}
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    out = await worker.handle(
        {"id": "smoke", "input": {"preset": "liveportrait", "params": params, "delivery": "base64"}}
    )
    wall = time.perf_counter() - started
    vram = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0
    return out, wall, vram


def smoke(args: argparse.Namespace) -> int:
    import av

    out, wall, vram = asyncio.run(run_job(args))
    if "error" in out:
        print("FAILED:", json.loads(str(out["error"])))
        return 1
    data = base64.b64decode(out["outputs"][0]["data"])  # type: ignore[index]
    Path(args.out).write_bytes(data)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        codec, pix, fps, frames = stream.codec_context.name, stream.format.name, stream.average_rate, stream.frames
        size = (stream.width, stream.height)
    expected = args.duration * 25
    timings: dict[str, float] = out["timings"]  # type: ignore[assignment]
    print(
        json.dumps(
            {
                "codec": codec,
                "pix_fmt": pix,
                "fps": float(fps),
                "frames": frames,
                "size": size,
                "mp4_mb": len(data) / 2**20,
                "wall_s": round(wall, 2),
                "timings": timings,
                "ms_per_frame": round(timings["execute_ms"] / max(1, frames), 1),
                "peak_vram_gib": round(vram, 2),
                "warnings": out.get("warnings"),
                "params": out.get("params"),
            },
            indent=2,
        )
    )
    ok = codec == "h264" and pix == "yuv420p" and frames == expected and len(data) < 50 * 2**20
    print(
        "OK" if ok else "UNEXPECTED STREAM",
        "- now watch",
        args.out,
        ": full blinks, 1-2 deg head drift, no seam at the face edge, still background",
    )
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", help="a face photo (default: scikit-image's astronaut)")
    parser.add_argument("--duration", type=int, default=10, choices=(10, 15, 20))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--prompt", default="smile")
    parser.add_argument("--out", default="/tmp/liveportrait-smoke.mp4")
    sys.exit(smoke(parser.parse_args()))


if __name__ == "__main__":
    main()
