"""H.264 / yuv420p MP4 written frame by frame into memory, so no clip ever sits in RAM as raw frames."""

from __future__ import annotations

import io
from fractions import Fraction
from types import TracebackType

import av
import numpy as np
from numpy.typing import NDArray

# Rate cap: 20 s at 8 Mbit/s is 20 MB, well under Telegram's 50 MB bot upload limit, whatever the photo.
MAX_BITRATE = 8_000_000


class Mp4Encoder:
    """Encode uint8 RGB frames as they come; ``close()`` returns the finished MP4 bytes as a BytesIO."""

    def __init__(self, width: int, height: int, fps: float, crf: int = 20, max_bitrate: int = MAX_BITRATE) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even sides, got {width}x{height}")
        self.buffer = io.BytesIO()
        self.container = av.open(self.buffer, mode="w", format="mp4")
        self.stream = self.container.add_stream("h264", rate=Fraction(fps).limit_denominator(1001))
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {
            "crf": str(crf),
            "preset": "fast",
            "maxrate": str(max_bitrate),
            "bufsize": str(2 * max_bitrate),
            # x264 buffers ~threads + lookahead frames; its default (1.5 x cores) would grow with the GPU box's
            # core count. 4 threads still encode 1 MP far faster than LivePortrait renders it.
            "threads": "4",
            "rc-lookahead": "20",
        }
        self.count = 0

    def write(self, frame: NDArray[np.uint8]) -> None:
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[..., :3]), format="rgb24")
        for packet in self.stream.encode(video_frame.reformat(format="yuv420p")):
            self.container.mux(packet)
        self.count += 1

    def close(self) -> io.BytesIO:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()
        self.buffer.seek(0)
        return self.buffer

    def __enter__(self) -> Mp4Encoder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.container.close()
