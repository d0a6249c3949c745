"""ComfyUI's per-step progress, throttled to at most one report per interval (RunPod spawns a thread per report)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from handler.engine import ProgressEvent

Emit = Callable[[dict[str, Any]], None]


class ProgressThrottle:
    def __init__(self, emit: Emit, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._emit = emit
        self._interval = interval_s
        self._clock = clock
        self._last: float | None = None

    def __call__(self, event: ProgressEvent) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        percent = round(100.0 * event.step / event.max, 1) if event.max else 0.0
        self._emit(
            {"node": event.node, "node_type": event.node_type, "step": event.step, "max": event.max, "percent": percent}
        )
