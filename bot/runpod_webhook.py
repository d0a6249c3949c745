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

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from bot.lifecycle import Lifecycle

log = logging.getLogger("bot.runpod_webhook")


class _Hook(RequestHandler):
    def initialize(self, lifecycle: Lifecycle, secret: str) -> None:
        self.lifecycle = lifecycle
        self.secret = secret

    async def post(self, token: str, job_id: str) -> None:
        if not hmac.compare_digest(token.encode(), self.secret.encode()):
            self.set_status(403)
            return
        log.info("runpod webhook", extra={"job_id": job_id})
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            body = None
        await self.lifecycle.on_webhook(job_id, body)  # the job's steps may run in another bot process
        self.set_status(200)
        self.finish({"ok": True})


class RunPodWebhookServer:
    def __init__(self, lifecycle: Lifecycle, secret: str, *, host: str, port: int) -> None:
        routes = [(r"/runpod/([^/]+)/([A-Za-z0-9_-]{1,64})", _Hook, {"lifecycle": lifecycle, "secret": secret})]
        app = Application(routes)
        self._server = HTTPServer(app)
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
