"""A local stand-in for RunPod's REST API (https://rest.runpod.io/v1), templates and endpoints only, over real HTTP.

Faithful at the boundary comfy_image/deploy_endpoint.py uses, as RunPod documents it: Bearer authentication
(401 otherwise); GET/POST /templates, PATCH /templates/{id}; GET/POST /endpoints, PATCH /endpoints/{id}; JSON
bodies checked against the documented field names (an unknown field is a 400, as a typo must not pass
silently here) and enums (allowedCudaVersions, scalerType, computeType); template names unique; an endpoint
must name an existing template. Objects come back with their id and every stored field.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TEMPLATE_FIELDS = {
    "name", "imageName", "category", "containerDiskInGb", "containerRegistryAuthId", "dockerEntrypoint",
    "dockerStartCmd", "env", "isPublic", "isServerless", "ports", "readme", "volumeInGb", "volumeMountPath",
}  # fmt: skip
TEMPLATE_CREATE_ONLY = {"isServerless", "category"}
ENDPOINT_FIELDS = {
    "templateId", "allowedCudaVersions", "computeType", "cpuFlavorIds", "dataCenterIds", "executionTimeoutMs",
    "flashboot", "gpuCount", "gpuTypeIds", "idleTimeout", "name", "networkVolumeId", "scalerType", "scalerValue",
    "vcpuCount", "workersMax", "workersMin",
}  # fmt: skip
ENDPOINT_CREATE_ONLY = {"computeType"}
CUDA = {"13.0", "12.9", "12.8", "12.7", "12.6", "12.5", "12.4", "12.3", "12.2", "12.1", "12.0", "11.8"}


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RunPodRestStandIn:
    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.templates: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        parts = path.removeprefix("/v1/").strip("/").split("/")
        if parts[0] not in {"templates", "endpoints"} or len(parts) > 2:
            raise Refused(404, f"no route {path}")
        store = self.templates if parts[0] == "templates" else self.endpoints
        if method == "GET" and len(parts) == 1:
            return 200, list(store.values())
        if method == "POST" and len(parts) == 1:
            return 200, self._create(parts[0], store, body or {})
        if method == "PATCH" and len(parts) == 2:
            return 200, self._update(parts[0], store, parts[1], body or {})
        raise Refused(405, f"{method} {path} is not supported")

    def _check(self, kind: str, body: dict[str, Any], create: bool) -> None:
        fields = TEMPLATE_FIELDS if kind == "templates" else ENDPOINT_FIELDS
        if not create:
            fields = fields - (TEMPLATE_CREATE_ONLY | ENDPOINT_CREATE_ONLY)
        unknown = sorted(set(body) - fields)
        if unknown:
            raise Refused(400, f"unknown fields {unknown}")
        if not set(body.get("allowedCudaVersions", [])) <= CUDA:
            raise Refused(400, "allowedCudaVersions: not a CUDA version RunPod offers")
        if body.get("scalerType", "QUEUE_DELAY") not in {"QUEUE_DELAY", "REQUEST_COUNT"}:
            raise Refused(400, "scalerType must be QUEUE_DELAY or REQUEST_COUNT")
        if body.get("computeType", "GPU") not in {"GPU", "CPU"}:
            raise Refused(400, "computeType must be GPU or CPU")
        if "templateId" in body and body["templateId"] not in self.templates:
            raise Refused(400, f"template {body['templateId']} does not exist")
        if kind == "templates" and any(t["name"] == body.get("name") for t in self.templates.values()):
            raise Refused(400, f"template name {body['name']!r} is taken")

    def _create(self, kind: str, store: dict[str, dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
        required = ("name", "imageName") if kind == "templates" else ("templateId",)
        if any(key not in body for key in required):
            raise Refused(400, f"{kind}: {required} are required")
        self._check(kind, body, create=True)
        item = {"id": secrets.token_hex(5)} | body
        store[item["id"]] = item
        self.writes.append(("POST", kind, body))
        return item

    def _update(self, kind: str, store: dict[str, dict[str, Any]], item_id: str, body: dict[str, Any]) -> Any:
        if item_id not in store:
            raise Refused(404, f"{kind} {item_id} not found")
        self._check(kind, body, create=False)
        store[item_id] = store[item_id] | body
        self.writes.append(("PATCH", f"{kind}/{item_id}", body))
        return store[item_id]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {standin.api_key}":
                    self._send(401, {"error": "Unauthorized"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length)) if length else None
                    with standin.lock:
                        status, answer = standin.handle(self.command, self.path, body)
                except Refused as exc:
                    status, answer = exc.status, {"error": str(exc)}
                except json.JSONDecodeError:
                    status, answer = 400, {"error": "body is not JSON"}
                self._send(status, answer)

            def _send(self, status: int, answer: Any) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _serve

            def log_message(self, *_args: object) -> None:
                return None

        return Handler
