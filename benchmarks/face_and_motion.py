"""CPU cost of the LivePortrait preset's pre-GPU steps: face pre-check per photo, idle motion for 500 frames.

Run: ``.venv/bin/python benchmarks/face_and_motion.py [--write]``; ``--write`` replaces this benchmark's section
of docs/benchmarks.md. No targets: both run once per job, on the CPU, before a GPU job of seconds; the column
"of photo prep" compares each step with the photo preparation every job already does (decode + normalise), in
the same run.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import skimage.data  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import write_marked  # noqa: E402
from comfy_image.nodes.idle_portrait.motion import MotionStyle, generate_motion  # noqa: E402
from handler.face import FaceDetector  # noqa: E402
from handler.photo import normalize_photo  # noqa: E402

BEGIN, END = "<!-- face_and_motion:begin -->", "<!-- face_and_motion:end -->"
PHOTOS = ("astronaut", "camera", "coffee", "rocket", "chelsea")


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, max) milliseconds over ``repeat`` runs after one warm-up."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def prep(jpeg: bytes) -> Image.Image:
    """The photo preparation every job does: decode the upload, normalise it (EXIF, mode, size)."""
    return normalize_photo(Image.open(io.BytesIO(jpeg)))


def jpeg_of(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=92)
    return buf.getvalue()


def run(repeat: int) -> str:
    rows = ["| step | input | median ms | max ms | of photo prep (same photo) |", "|---|---|---|---|---|"]
    for name in PHOTOS:
        jpeg = jpeg_of(Image.fromarray(getattr(skimage.data, name)()))
        base, _ = timed(lambda j=jpeg: prep(j), repeat)
        photo = prep(jpeg)
        faces = len(FaceDetector.detect(photo))
        med, worst = timed(lambda p=photo: FaceDetector.detect(p), repeat)
        rows.append(
            f"| face pre-check | {name} {photo.width}x{photo.height}, {faces} face(s) | {med:.1f} | {worst:.1f} | "
            f"{med / base:.1f}x of {base:.1f} ms |"
        )
    big = jpeg_of(Image.fromarray(skimage.data.astronaut()).resize((4000, 3000)))
    base, worst = timed(lambda: prep(big), max(3, repeat // 4))
    rows.append(f"| photo prep (decode, LANCZOS) | 4000x3000 JPEG -> 1 MP | {base:.1f} | {worst:.1f} | 1.0x |")
    small = prep(big)
    med, worst = timed(lambda: FaceDetector.detect(small), repeat)
    rows.append(
        f"| face pre-check | that photo {small.width}x{small.height} | {med:.1f} | {worst:.1f} | {med / base:.2f}x |"
    )
    for style in MotionStyle:
        med, worst = timed(lambda s=style: generate_motion(500, 25, s, 1.0, seed=1), repeat)
        rows.append(
            f"| idle motion | 500 frames, {style.value} | {med:.2f} | {worst:.2f} | {med / base:.3f}x of the 4000x3000 |"
        )
    cpu = platform.processor() or platform.machine()
    head = (
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores ({cpu}), Python "
        f"{platform.python_version()}, {repeat} runs each after a warm-up; other jobs may share the machine, "
        "so max is noisy. No targets: both steps run once per job on the CPU before a GPU job of seconds; the "
        "last column compares each with the photo preparation (decode + normalise) every job does anyway. "
        "Run: `.venv/bin/python benchmarks/face_and_motion.py --write`."
    )
    return "\n".join(["## LivePortrait pre-checks: face detection and idle motion", "", head, "", *rows, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    section = run(args.repeat)
    print(section)
    if args.write:
        write_marked(BEGIN, END, section)


if __name__ == "__main__":
    main()
