"""Receives RunPod's webhook (POST of a finished job's status) and wakes the job's tracker.

The URL carries a secret token (``{PUBLIC_URL}/runpod/{secret}/{job_id}``): RunPod cannot sign its webhooks,
so an unguessable path is the authentication. The body is not trusted for money: the tracker reads the job's
status from the API itself, so a forged call can at most make it look earlier.
"""

from __future__ import annotations

import hmac
import logging

from tornado.http1connection import HTTP1Connection
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler, stream_request_body

from bot.tracker import JobTracker

log = logging.getLogger("bot.runpod_webhook")


@stream_request_body
class _Hook(RequestHandler):
    """Checks the path token from the headers alone, before any of the body is read; the body is never used
    (the tracker reads the job from the API), so it is discarded as it streams in, up to ``max_body``."""

    def initialize(self, tracker: JobTracker, secret: str, max_body: int) -> None:
        self.tracker = tracker
        self.secret = secret
        self.max_body = max_body

    async def prepare(self) -> None:
        token, job_id = self.path_args
        if self.request.method != "POST" or not hmac.compare_digest(token.encode(), self.secret.encode()):
            self.set_status(403)
            self.finish()  # the connection closes without the body being read
            return
        connection = self.request.connection
        if isinstance(connection, HTTP1Connection):
            connection.set_max_body_size(self.max_body)  # past it tornado answers 400 and hangs up
        log.info("runpod webhook", extra={"job_id": job_id})
        await self.tracker.signal(job_id)  # the job may be tracked by another bot process

    def data_received(self, chunk: bytes) -> None:
        return None  # discarded: nothing in the body is trusted or needed

    def post(self, token: str, job_id: str) -> None:
        self.set_status(200)
        self.finish({"ok": True})


class RunPodWebhookServer:
    def __init__(
        self,
        tracker: JobTracker,
        secret: str,
        *,
        host: str,
        port: int,
        max_body_bytes: int = 1024 * 1024,
        timeout_s: float = 30.0,
    ) -> None:
        hook = {"tracker": tracker, "secret": secret, "max_body": max_body_bytes}
        app = Application([(r"/runpod/([^/]+)/([A-Za-z0-9_-]{1,64})", _Hook, hook)])
        # The server-wide caps hold for every path, also ones no handler matches. Tornado waits an hour for
        # headers and forever for a body by default: a trickling client would hold its connection that long.
        self._server = HTTPServer(
            app,
            max_body_size=max_body_bytes,
            max_header_size=16 * 1024,
            idle_connection_timeout=timeout_s,
            body_timeout=timeout_s,
        )
        self.host = host
        self.port = port

    def start(self) -> int:
        """Listen (on the running event loop); returns the port (useful with port 0)."""
        sockets = bind_sockets(self.port, self.host)
        self._server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()
