"""Peak RAM and file size of a 500-frame (20 s at 25 fps) idle clip at about 1 MP, rendered for real on the CPU.

The networks are the random-weight, shrunken LivePortrait of the tests (128 px decoder output instead of 512), so
the time per frame says nothing about a GPU; what this measures is the clip path around the networks: paste-back
into the full photo, H.264 encoding as frames arrive, and the MP4 held in memory. Run:
``.venv/bin/python benchmarks/liveportrait_memory.py [--frames 500] [--write]``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import skimage.data  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import write_marked  # noqa: E402
from comfy_image.nodes.idle_portrait.animate import render_clip  # noqa: E402
from comfy_image.nodes.idle_portrait.motion import generate_motion  # noqa: E402
from handler.face import FaceDetector  # noqa: E402
from handler.photo import normalize_photo  # noqa: E402
from tests.liveportrait.tiny_liveportrait import crop_face, tiny_pipeline  # noqa: E402

BEGIN, END = "<!-- liveportrait_memory:begin -->", "<!-- liveportrait_memory:end -->"


class PeakRss:
    """Samples this process's resident memory every 5 ms."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(frames: int) -> str:
    torch.set_num_threads(1)  # this measures memory; one thread is also faster on a shared CPU
    photo = normalize_photo(Image.fromarray(skimage.data.astronaut()).resize((4000, 3000)))
    face = FaceDetector.detect(photo)[0]
    pixels = np.asarray(photo)
    pipeline = tiny_pipeline()
    _, crop_info = crop_face(pipeline, pixels, (face.x, face.y, face.x + face.width, face.y + face.height))
    motion = generate_motion(frames, 25, "cheerful", 1.0, seed=1)
    render_clip(pipeline, crop_info, pixels, generate_motion(8, 25, seed=0))  # warm-up
    base = psutil.Process().memory_info().rss
    started = time.perf_counter()
    with PeakRss() as rss:
        clip = render_clip(pipeline, crop_info, pixels, motion)
    seconds = time.perf_counter() - started
    size = clip.getbuffer().nbytes
    h, w = pixels.shape[:2]
    float_frames = frames * h * w * 3 * 4
    return "\n".join(
        [
            "## LivePortrait idle clip: memory and size",
            "",
            f"{frames} frames at 25 fps of a {w}x{h} photo, rendered by `render_clip` with the tests' random-weight "
            f"shrunken networks on {psutil.cpu_count()} CPU cores ({seconds:.0f} s, {1000 * seconds / frames:.0f} ms/frame "
            "CPU, not indicative of GPU speed). Run: `.venv/bin/python benchmarks/liveportrait_memory.py --write`.",
            "",
            "| what | value |",
            "|---|---|",
            f"| process RSS before the clip (torch, models, photo) | {base / 2**20:.0f} MiB |",
            f"| peak RSS while rendering | {rss.peak / 2**20:.0f} MiB (+{(rss.peak - base) / 2**20:.0f} MiB) |",
            f"| MP4 size (H.264 yuv420p, crf 20, capped at 8 Mbit/s) | {size / 2**20:.1f} MiB |",
            f"| the same frames kept as float32 (KJ LivePortraitComposite) | {float_frames / 2**30:.1f} GiB |",
            "",
            "The random networks paint noise into the face, which should compress worse than a real face (no real "
            "clip has been encoded yet). The bitrate cap bounds any 20 s clip at ~20 MB (Telegram's bot upload limit is 50 MB).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    section = run(args.frames)
    print(section)
    if args.write:
        write_marked(BEGIN, END, section)


if __name__ == "__main__":
    main()
