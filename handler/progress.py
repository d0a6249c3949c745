"""ComfyUI's per-step progress, throttled to at most one report per interval (RunPod spawns a thread per report).

While a sampler runs, a report may carry ``preview``: a small JPEG of the image so far (handler/previews.py),
decoded only for the reports actually sent and at most once per ``preview_interval_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from handler.engine import ProgressEvent
from handler.previews import lazy_preview
from handler.settings import WorkerSettings
from workflows.contract import Progress

log = logging.getLogger(__name__)
Emit = Callable[[dict[str, Any]], None]


class ProgressThrottle:
    def __init__(
        self,
        emit: Emit,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        previews: bool = False,
        preview_interval_s: float = 1.0,
    ) -> None:
        self._emit = emit
        self._interval = interval_s
        self._clock = clock
        self._last: float | None = None
        self._previews = previews
        self._preview_interval = preview_interval_s
        self._last_preview: float | None = None

    @classmethod
    def for_job(cls, emit: Emit, settings: WorkerSettings, preset: str | None) -> ProgressThrottle:
        """The reporter of one job: previews for preset jobs (PREVIEWS=presets), every job (all) or none (off)."""
        previews = settings.previews == "all" or (settings.previews == "presets" and preset is not None)
        return cls(
            emit, settings.progress_interval_s, previews=previews, preview_interval_s=settings.preview_interval_s
        )

    def __call__(self, event: ProgressEvent) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        percent = round(100.0 * event.step / event.max, 1) if event.max else 0.0
        report = Progress(node=event.node, node_type=event.node_type, step=event.step, max=event.max, percent=percent)
        report.preview = self._preview(event, now)
        self._emit(report.model_dump(exclude_none=True))

    def _preview(self, event: ProgressEvent, now: float) -> str | None:
        preview = lazy_preview(event.preview) if self._previews else None
        if preview is None or (self._last_preview is not None and now - self._last_preview < self._preview_interval):
            return None
        self._last_preview = now
        try:
            return preview.jpeg_base64()
        except Exception:  # a preview is a nicety: a decode failure must never fail the job
            log.warning("preview failed", exc_info=True)
            return None
