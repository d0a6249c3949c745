"""RunPod's per-route request limits (requests per 10 s window), answered with 429 and Retry-After."""

from __future__ import annotations

import time
from collections import deque


class SlidingWindow:
    """At most ``limit`` requests in any ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: deque[float] = deque()

    def acquire(self) -> float | None:
        """Count a request; None if allowed, else the seconds until one would be."""
        now = time.monotonic()
        while self._hits and now - self._hits[0] >= self.window_s:
            self._hits.popleft()
        if len(self._hits) >= self.limit:
            return self.window_s - (now - self._hits[0])
        self._hits.append(now)
        return None


class RateLimits:
    def __init__(self, limits: dict[str, int], window_s: float) -> None:
        self._windows = {route: SlidingWindow(limit, window_s) for route, limit in limits.items()}

    def acquire(self, route: str) -> float | None:
        window = self._windows.get(route)
        return window.acquire() if window is not None else None
