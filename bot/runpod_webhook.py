"""Receives RunPod's webhook (POST of a finished job's status) and wakes the job's lifecycle.

The URL carries a secret token (``{PUBLIC_URL}/runpod/{secret}/{job_id}``): RunPod cannot sign its webhooks,
so an unguessable path is the authentication. The body is not trusted for money: the job's status is read from the
API itself, so a forged call can at most make it look earlier. The body's RunPod job id resolves a submit whose
answer was lost, and names orphans to cancel.
"""

from __future__ import annotations

import hmac
import json
import logging

from tornado.http1connection import HTTP1Connection
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler, stream_request_body

from bot.lifecycle import Lifecycle

log = logging.getLogger("bot.runpod_webhook")


@stream_request_body
class _Hook(RequestHandler):
    """Checks the path token from the headers alone, before any of the body is read; only then is the body
    (read for the RunPod job id it names, never for money) taken in, up to ``max_body``."""

    def initialize(self, lifecycle: Lifecycle, secret: str, max_body: int) -> None:
        self.lifecycle = lifecycle
        self.secret = secret
        self.max_body = max_body
        self.body = bytearray()

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

    def data_received(self, chunk: bytes) -> None:
        self.body += chunk  # bounded: tornado stops the request past max_body

    async def post(self, token: str, job_id: str) -> None:
        try:
            body = json.loads(bytes(self.body) or b"null")
        except ValueError:
            body = None
        await self.lifecycle.on_webhook(job_id, body)  # the job's steps may run in another bot process
        self.set_status(200)
        self.finish({"ok": True})


class RunPodWebhookServer:
    def __init__(
        self,
        lifecycle: Lifecycle,
        secret: str,
        *,
        host: str,
        port: int,
        max_body_bytes: int = 1024 * 1024,
        timeout_s: float = 30.0,
    ) -> None:
        hook = {"lifecycle": lifecycle, "secret": secret, "max_body": max_body_bytes}
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
