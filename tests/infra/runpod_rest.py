"""A local stand-in for RunPod's REST API v2 (https://api.runpod.io/v2), serverless endpoints only, over real HTTP.

Modelled on RunPod's published v2 OpenAPI schema (github.com/runpod/docs, api-reference-v2/openapi.json:
CreateEndpointRequest, UpdateEndpointRequest, Endpoint, ErrorResponse), its migration guide
(https://docs.runpod.io/api-reference-v2/migrate-from-v1) and the behaviour RunPod's own migration notes report
as observed (github.com/runpod/runpod-plugins-official, skills/runpod-migrate/reference/breaking-changes.md):

- Bearer authentication: 401 without a known key, 403 for a write with a read-only key.
- ``GET/POST /v2/serverless``, ``GET/PATCH/DELETE /v2/serverless/{id}``; other paths 404, other methods 405.
- Lists come wrapped (``{"endpoints": [...]}``) and whole: the schema defines no pagination for this list.
- Request bodies are checked field by field as the schema's ``unevaluatedProperties: false`` does: an unknown
  or misplaced field (a v1 name such as ``gpuTypeIds``) is a 422 whose ``errors`` name it, as are a missing
  required field, a wrong type, a value outside an enum or a pattern. Create needs exactly one of ``gpu`` or
  ``cpu`` (400); a non-empty ``gpu.allowedCudaVersions`` beside ``gpu.minCudaVersion`` is a 400 (checked on the
  merged state after a PATCH too, the stricter reading of "setting one does not clear the other");
  ``workers.idleTimeout`` beside request-count scaling on a queue endpoint is a 422.
- Errors are RFC 9457 problems (``application/problem+json``: title, status, detail, errors).
- Create answers 201 with every field of ``Endpoint``, defaults filled (an omitted ``timeout`` is stored as 0,
  as observed); PATCH changes only the fields sent (``workers`` and ``gpu`` per subfield, ``pools`` without
  ``excludedTypes`` clearing them, ``env`` replaced whole) and answers 200 with the endpoint.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CUDA = re.compile(r"^\d+\.\d+$")
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}
TITLES |= {422: "Unprocessable Entity"}
Check = Callable[[str, Any, list[str]], None]


class Problem(Exception):
    def __init__(self, status: int, detail: str, errors: list[str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"title": TITLES.get(self.status, "Error"), "status": self.status}
        return body | {"detail": self.detail} | ({"errors": self.errors} if self.errors else {})


# A few JSON-schema-like checks, each appending "$.path: message" lines as RunPod's validator words them.


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(low: int | None = None, high: int | None = None) -> Check:
    def check(path: str, value: Any, errors: list[str]) -> None:
        if not is_int(value):
            errors.append(f"{path}: got {type(value).__name__}, want integer")
        elif (low is not None and value < low) or (high is not None and value > high):
            errors.append(f"{path}: must be >= {low} and <= {high}")

    return check


def string(pattern: str | None = None, min_length: int = 0) -> Check:
    def check(path: str, value: Any, errors: list[str]) -> None:
        if not isinstance(value, str):
            errors.append(f"{path}: got {type(value).__name__}, want string")
        elif len(value) < min_length or (pattern and not re.match(pattern, value)):
            errors.append(f"{path}: {value!r} does not match {pattern or f'minLength {min_length}'}")

    return check


def nullable(inner: Check) -> Check:
    return lambda path, value, errors: None if value is None else inner(path, value, errors)


def enum(*values: str) -> Check:
    def check(path: str, value: Any, errors: list[str]) -> None:
        if value not in values:
            errors.append(f"{path}: value must be one of {', '.join(repr(v) for v in values)}")

    return check


def array(item: Check, min_items: int = 0) -> Check:
    def check(path: str, value: Any, errors: list[str]) -> None:
        if not isinstance(value, list):
            errors.append(f"{path}: got {type(value).__name__}, want array")
            return
        if len(value) < min_items:
            errors.append(f"{path}: minItems {min_items}")
        for index, element in enumerate(value):
            item(f"{path}[{index}]", element, errors)

    return check


def mapping(values: Check) -> Check:
    def check(path: str, value: Any, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(f"{path}: got {type(value).__name__}, want object")
            return
        for key, element in value.items():
            values(f"{path}.{key}", element, errors)

    return check


def obj(fields: dict[str, Check], required: tuple[str, ...] = ()) -> Check:
    def check(path: str, value: Any, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(f"{path}: got {type(value).__name__}, want object")
            return
        errors.extend(f"{path}: missing property {key!r}" for key in required if key not in value)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            errors.append(f"{path}: additional properties {', '.join(repr(k) for k in unknown)} not allowed")
        for key, element in value.items():
            if key in fields:
                fields[key](f"{path}.{key}", element, errors)

    return check


def number(low: float) -> Check:
    def check(path: str, value: Any, errors: list[str]) -> None:
        if not isinstance(value, int | float) or isinstance(value, bool) or value < low:
            errors.append(f"{path}: want a number >= {low}")

    return check


def scaling(path: str, value: Any, errors: list[str]) -> None:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "QUEUE_DELAY":
        obj({"type": enum("QUEUE_DELAY"), "queueDelay": number(0.5)}, ("type", "queueDelay"))(path, value, errors)
    elif kind == "REQUEST_COUNT":
        fields = {"type": enum("REQUEST_COUNT"), "requestCount": integer(1)}
        obj(fields, ("type", "requestCount"))(path, value, errors)
    else:
        errors.append(f"{path}.type: value must be one of 'QUEUE_DELAY', 'REQUEST_COUNT'")


CONTAINER: dict[str, Check] = {
    "args": string(),
    "disk": integer(1),
    "env": mapping(string()),
    "image": string(),
    "ports": array(string()),
    "registry": nullable(string()),
}
GPU: dict[str, Check] = {
    "pools": array(string(), min_items=1),
    "excludedTypes": array(string(r"^\s*[^-\s]")),
    "count": integer(1),
    "allowedCudaVersions": array(string(CUDA.pattern)),
}
COMMON: dict[str, Check] = CONTAINER | {
    "cpu": array(obj({"id": string(), "vcpuCount": integer(1)}, ("id", "vcpuCount")), min_items=1),
    "dataCenterIds": array(string()),
    "flashboot": enum("OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"),
    "name": string(min_length=1),
    "networkVolumes": array(string()),
    "scaling": scaling,
    "templateId": string(min_length=1),
    "timeout": integer(),
    "workers": obj({"min": integer(0), "max": integer(0), "idleTimeout": integer(1, 3600)}),
}
CREATE = obj(
    COMMON
    | {"type": enum("QUEUE", "LOAD_BALANCER"), "gpu": obj(GPU | {"minCudaVersion": string(CUDA.pattern)}, ("pools",))},
    ("name", "type", "scaling"),
)
UPDATE = obj(COMMON | {"gpu": obj(GPU | {"minCudaVersion": string(r"^$|^\d+\.\d+$")})})


def validate(check: Check, body: Any) -> None:
    errors: list[str] = []
    check("$", body, errors)
    if errors:
        raise Problem(422, "Request validation failed.", errors)


def check_rules(endpoint: dict[str, Any]) -> None:
    """The rules that are not plain schema, on the stored (or about to be stored) endpoint."""
    gpu = endpoint.get("gpu") or {}
    if gpu.get("allowedCudaVersions") and gpu.get("minCudaVersion"):
        raise Problem(400, "gpu.allowedCudaVersions (non-empty) and gpu.minCudaVersion are mutually exclusive")
    scale_kind = endpoint["scaling"]["type"]
    if endpoint["type"] == "QUEUE" and scale_kind == "REQUEST_COUNT" and "idleTimeout" in endpoint["workers"]:
        raise Problem(422, "idleTimeout does not apply to queue-based endpoints scaling on requestCount")
    if endpoint["type"] == "LOAD_BALANCER" and scale_kind != "REQUEST_COUNT":
        raise Problem(422, "Request validation failed.", ["$.scaling: load-balancing endpoints scale on REQUEST_COUNT"])


def request_urls(endpoint_id: str) -> dict[str, str]:
    base = f"https://api.runpod.ai/v2/{endpoint_id}"
    urls = {"run": f"{base}/run", "runSync": f"{base}/runsync", "status": f"{base}/status/{{job_id}}"}
    urls |= {"stream": f"{base}/stream/{{job_id}}", "cancel": f"{base}/cancel/{{job_id}}"}
    return urls | {"retry": f"{base}/retry/{{job_id}}", "purgeQueue": f"{base}/purge-queue", "health": f"{base}/health"}


def new_endpoint(body: dict[str, Any]) -> dict[str, Any]:
    """An Endpoint as RunPod answers it: every required field, defaults where the body is silent."""
    endpoint_id = secrets.token_hex(7)
    gpu = {"count": 1, "allowedCudaVersions": [], "minCudaVersion": None} | body.get("gpu", {})
    workers = {"min": 0, "max": 3, "idleTimeout": 10} | body.get("workers", {})
    if body["scaling"]["type"] == "REQUEST_COUNT" and "idleTimeout" not in body.get("workers", {}):
        del workers["idleTimeout"]
    endpoint = {"id": endpoint_id, "name": body["name"], "type": body["type"], "requestUrls": request_urls(endpoint_id)}
    endpoint |= {"image": body.get("image", ""), "args": "", "ports": [], "env": {}, "registry": None}
    endpoint |= {k: body[k] for k in CONTAINER if k in body}
    endpoint |= {"gpu": gpu, "workers": workers, "scaling": body["scaling"], "dataCenterIds": [], "networkVolumes": []}
    endpoint |= {k: body[k] for k in ("dataCenterIds", "networkVolumes") if k in body}
    endpoint |= {"timeout": body.get("timeout", 0), "flashboot": body.get("flashboot", "OFF")}
    return endpoint | {"createdAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def patched(endpoint: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    result = json.loads(json.dumps(endpoint)) | {k: v for k, v in body.items() if k not in ("gpu", "workers")}
    result["workers"] = result["workers"] | body.get("workers", {})
    if "gpu" in body:
        gpu = dict(result["gpu"] or {})
        if "pools" in body["gpu"]:
            gpu.pop("excludedTypes", None)  # pools and excludedTypes are one selection
        gpu |= body["gpu"]
        if gpu.get("minCudaVersion") == "":
            gpu["minCudaVersion"] = None
        result["gpu"] = gpu
    return result


class RunPodRestStandIn:
    def __init__(self, api_key: str = "test-key", read_only_key: str = "read-only-key") -> None:
        self.api_key, self.read_only_key = api_key, read_only_key
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v2"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def authorize(self, authorization: str | None, method: str) -> None:
        if authorization not in (f"Bearer {self.api_key}", f"Bearer {self.read_only_key}"):
            raise Problem(401, "missing bearer token" if not authorization else "invalid API key")
        if method != "GET" and authorization == f"Bearer {self.read_only_key}":
            raise Problem(403, "access denied")

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:2] != ["v2", "serverless"] or len(parts) > 3:
            raise Problem(404, "resource not found")
        if len(parts) == 2:
            if method == "GET":
                return 200, {"endpoints": list(self.endpoints.values())}
            if method == "POST":
                return 201, self._create(body)
            raise Problem(405, "The requested method is not allowed for this path.")
        if parts[2] not in self.endpoints:
            raise Problem(404, "serverless endpoint not found")
        if method == "GET":
            return 200, self.endpoints[parts[2]]
        if method == "PATCH":
            return 200, self._update(parts[2], body)
        if method == "DELETE":
            del self.endpoints[parts[2]]
            return 204, None
        raise Problem(405, "The requested method is not allowed for this path.")

    def _create(self, body: Any) -> dict[str, Any]:
        validate(CREATE, body)
        if ("gpu" in body) == ("cpu" in body):
            raise Problem(400, "specify exactly one of gpu or cpu")
        if "templateId" in body:
            raise Problem(404, f"template {body['templateId']} not found")
        if "image" not in body:
            raise Problem(422, "Request validation failed.", ["$: missing property 'image'"])
        endpoint = new_endpoint(body)
        check_rules(endpoint)
        self.endpoints[endpoint["id"]] = endpoint
        self.writes.append(("POST", "serverless", body))
        return endpoint

    def _update(self, endpoint_id: str, body: Any) -> dict[str, Any]:
        validate(UPDATE, body)
        if "templateId" in body:
            raise Problem(404, f"template {body['templateId']} not found")
        if "cpu" in body:
            raise Problem(400, "cpu on a GPU endpoint: compute family is immutable")
        if "excludedTypes" in body.get("gpu", {}) and "pools" not in body["gpu"]:
            raise Problem(422, "Request validation failed.", ["$.gpu: excludedTypes requires pools"])
        endpoint = patched(self.endpoints[endpoint_id], body)
        check_rules(endpoint)
        self.endpoints[endpoint_id] = endpoint
        self.writes.append(("PATCH", f"serverless/{endpoint_id}", body))
        return endpoint

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    standin.authorize(self.headers.get("Authorization"), self.command)
                    try:
                        body = json.loads(self.rfile.read(length)) if length else None
                    except json.JSONDecodeError as exc:
                        raise Problem(400, f"request body is not JSON: {exc}") from exc
                    with standin.lock:
                        status, answer = standin.handle(self.command, self.path, body)
                    self._send(status, answer, "application/json")
                except Problem as problem:
                    self._send(problem.status, problem.body(), "application/problem+json")

            def _send(self, status: int, answer: Any, content_type: str) -> None:
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

            def log_message(self, *_args: object) -> None:
                return None

        return Handler
