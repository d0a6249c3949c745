"""Serving the endpoint with uvicorn: in the foreground (the main command) or on a background thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from handler.local_endpoint.app import create_app
from handler.local_endpoint.core import LocalEndpoint
from handler.local_endpoint.settings import EndpointSettings
from handler.settings import WorkerSettings


def _header_deadline(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with a deadline for each request's headers (from the connection, or from the
    previous response): uvicorn has none, and its keep-alive timer stops at the first byte, so a client trickling
    its headers would hold a connection for ever. The body has its own deadline (app.py)."""

    class HeaderDeadline(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(timeout_s, self._expired)

        def _expired(self) -> None:
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()  # still no complete request line and headers

    return HeaderDeadline


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
            http=_header_deadline(settings.body_timeout_s),
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
