"""RunPod's per-route request limits (requests per 10 s window), answered with 429 and Retry-After.

Each caller (client address) has its own windows, so one noisy caller cannot starve the others.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque


def caller_key(host: str) -> str:
    """Whom a limit counts: the client's IPv4 address, or its IPv6 /64 (one subscriber's usual allocation, so a
    caller cycling through its own 2^64 addresses is still one caller)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


class SlidingWindow:
    """At most ``limit`` requests in any ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._hits and now - self._hits[0] >= self.window_s:
            self._hits.popleft()

    def acquire(self) -> float | None:
        """Count a request; None if allowed, else the seconds until one would be."""
        now = time.monotonic()
        self._expire(now)
        if len(self._hits) >= self.limit:
            return self.window_s - (now - self._hits[0])
        self._hits.append(now)
        return None

    def idle(self) -> bool:
        self._expire(time.monotonic())
        return not self._hits


class RateLimits:
    """Windows per (caller, route); at most ``max_callers`` callers are tracked, idle ones are forgotten first and
    past that the newest callers share one overflow window per route."""

    OVERFLOW = "<overflow>"

    def __init__(self, limits: dict[str, int], window_s: float, max_callers: int = 10_000) -> None:
        self._limits, self._window_s, self._max_callers = limits, window_s, max_callers
        self._callers: dict[str, dict[str, SlidingWindow]] = {}

    def acquire(self, route: str, caller: str = "") -> float | None:
        limit = self._limits.get(route)
        if limit is None:
            return None
        windows = self._callers.get(caller)
        if windows is None:
            if len(self._callers) >= self._max_callers:
                self._forget_idle()
            if len(self._callers) >= self._max_callers:
                caller = self.OVERFLOW
            windows = self._callers.setdefault(caller, {})
        window = windows.setdefault(route, SlidingWindow(limit, self._window_s))
        return window.acquire()

    def _forget_idle(self) -> None:
        for caller in [c for c, windows in self._callers.items() if all(w.idle() for w in windows.values())]:
            del self._callers[caller]
