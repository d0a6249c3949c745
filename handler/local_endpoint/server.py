"""Serving the endpoint with uvicorn: in the foreground (the main command) or on a background thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import uvicorn

from handler.local_endpoint.app import create_app
from handler.local_endpoint.core import LocalEndpoint
from handler.local_endpoint.settings import EndpointSettings
from handler.settings import WorkerSettings


class EndpointServer:
    """A listening endpoint. ``port=0`` picks a free port; ``url`` is the base to give clients (``.../v2``)."""

    def __init__(self, settings: EndpointSettings, worker_settings: WorkerSettings) -> None:
        self.settings = settings
        self.endpoint = LocalEndpoint(settings, worker_settings)
        # proxy_headers off: uvicorn otherwise takes the client address from X-Forwarded-For on loopback
        # connections, and a caller choosing its own address would dodge its per-caller rate limit.
        config = uvicorn.Config(
            create_app(self.endpoint),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        sockets = [sock for server in self.server.servers for sock in server.sockets]
        port: int = sockets[0].getsockname()[1] if sockets else self.settings.port
        return port

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}/v2"

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.server.serve()

    def start_in_thread(self, timeout_s: float = 30.0) -> EndpointServer:
        """Serve on a daemon thread; returns once the socket listens (workers may still be booting)."""
        self._thread = threading.Thread(target=asyncio.run, args=(self.serve(),), name="local-endpoint", daemon=True)
        self._thread.start()
        for _ in range(int(timeout_s / 0.02)):
            if self.server.started:
                return self
            if not self._thread.is_alive():
                break
            threading.Event().wait(0.02)
        raise RuntimeError("the local endpoint did not start listening")

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the endpoint's own loop (its state is not thread-safe) and return the result."""
        assert self._loop is not None

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def stop(self, timeout_s: float = 30.0) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Block until every worker process has booted."""
        for _ in range(int(timeout_s / 0.05)):
            if self.call(lambda: self.endpoint.health().workers.idle) == len(self.endpoint.slots):
                return
            threading.Event().wait(0.05)
        raise RuntimeError("worker processes did not become ready")
