"""Apply the endpoint declared in ``runpod.toml`` through RunPod's REST API v2: create or update, idempotently.

::

    python -m comfy_image.deploy_endpoint show                 # the request body, no API call
    python -m comfy_image.deploy_endpoint apply --dry-run      # what would change (reads the account)
    python -m comfy_image.deploy_endpoint apply                # make it so

The serverless endpoint is found by name. Missing: created (``POST /serverless``). Present: only the
top-level fields that differ from the declaration are sent (``PATCH /serverless/{id}``); equal: nothing is
written. In v2 the endpoint carries its container settings itself (image, disk, env, registry): a template is
copied once at creation and later template edits never reach the endpoint, so none is used here.
``${NAME}`` / ``${NAME:-default}`` in the file come from the environment. ``RUNPOD_API_KEY`` authenticates (a
key with read/write access to Serverless); ``RUNPOD_REST_URL`` overrides ``https://api.runpod.io/v2`` (tests
point it at a local stand-in). Exit status: 0 done (or nothing to do), 1 the API refused something, 2 a bad
declaration or setting.

Written from RunPod's published v2 material, not run against the real API (docs/deploy.md says what was
checked): https://docs.runpod.io/api-reference-v2/migrate-from-v1 (paths, wrapped lists, RFC 9457 errors),
https://api.runpod.io/v2/openapi.json as published in github.com/runpod/docs (api-reference-v2/openapi.json:
CreateEndpointRequest, UpdateEndpointRequest, Endpoint, ErrorResponse), and the v1-to-v2 notes in
github.com/runpod/runpod-plugins-official (skills/runpod-migrate/reference: observed ``timeout`` default 0,
unknown fields a 422 naming them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "runpod.toml"
DEFAULT_API = "https://api.runpod.io/v2"
DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$")
VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(:-([^}]*))?\}")
VAULT_NAME = r"^[A-Za-z0-9_]+$"  # RunPod secret names
UNORDERED = {"pools", "networkVolumes"}  # v2 places workers on any listed pool: order carries no priority


class DeclarationError(Exception):
    """runpod.toml (or the environment it reads) does not describe a deployable endpoint."""


class ApiError(Exception):
    """RunPod's API refused a request."""


class ContainerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str = Field(pattern=DIGEST_REF.pattern, description="by digest, so a rollback is one field")
    disk_gb: int = Field(ge=5, le=200)
    registry_auth_id: str = ""
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict, description="env name -> RunPod secret name")


class EndpointSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    gpu_pools: list[str] = Field(min_length=1)
    gpu_count: int = Field(ge=1, le=8)
    min_cuda_version: str = Field(pattern=r"^\d+\.\d+$")
    workers_min: int = Field(ge=0)
    workers_max: int = Field(ge=1)
    idle_timeout_s: int = Field(ge=1, le=3600)
    execution_timeout_s: int = Field(ge=5)
    flashboot: Literal["OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"]
    scaler_type: Literal["QUEUE_DELAY", "REQUEST_COUNT"]
    scaler_value: float = Field(ge=0.5)
    network_volume_id: str = ""


class Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    container: ContainerSpec
    endpoint: EndpointSpec


def expand(value: Any, env: Mapping[str, str], missing: set[str]) -> Any:
    """Substitute ${NAME} and ${NAME:-default} in every string value; collect names unset without a default."""
    if isinstance(value, dict):
        return {key: expand(item, env, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item, env, missing) for item in value]
    if not isinstance(value, str):
        return value
    missing.update(m.group(1) for m in VARIABLE.finditer(value) if m.group(2) is None and not env.get(m.group(1)))
    return VARIABLE.sub(lambda m: env.get(m.group(1)) or (m.group(3) or ""), value)


def load(path: Path, env: Mapping[str, str]) -> Declaration:
    missing: set[str] = set()
    try:
        data = expand(tomllib.loads(path.read_text()), env, missing)
        if missing:
            raise DeclarationError(
                f"set these environment variables ({path.name} uses them): {', '.join(sorted(missing))}"
            )
        declaration = Declaration.model_validate(data)
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise DeclarationError(f"{path}: {exc}") from exc
    for env_name, secret in declaration.container.secrets.items():
        if not re.match(VAULT_NAME, secret) or env_name in declaration.container.env:
            raise DeclarationError(f"{path}: secret {env_name} = {secret!r}: a RunPod secret name, not also in env")
    endpoint = declaration.endpoint
    if endpoint.workers_min > endpoint.workers_max:
        raise DeclarationError(f"{path}: endpoint.workers_min is above workers_max")
    if endpoint.scaler_type == "REQUEST_COUNT" and not endpoint.scaler_value.is_integer():
        raise DeclarationError(f"{path}: endpoint.scaler_value counts requests for REQUEST_COUNT: a whole number")
    return declaration


def scaling(spec: EndpointSpec) -> dict[str, Any]:
    if spec.scaler_type == "REQUEST_COUNT":
        return {"type": "REQUEST_COUNT", "requestCount": int(spec.scaler_value)}
    return {"type": "QUEUE_DELAY", "queueDelay": spec.scaler_value}


def endpoint_body(declaration: Declaration) -> dict[str, Any]:
    """The v2 CreateEndpointRequest; each top-level field is also a valid UpdateEndpointRequest field."""
    container, spec = declaration.container, declaration.endpoint
    env = dict(container.env) | {name: f"{{{{ RUNPOD_SECRET_{s} }}}}" for name, s in container.secrets.items()}
    workers: dict[str, Any] = {"min": spec.workers_min, "max": spec.workers_max}
    if spec.scaler_type == "QUEUE_DELAY":  # v2 rejects idleTimeout beside request-count scaling (422)
        workers["idleTimeout"] = spec.idle_timeout_s
    return {
        "name": spec.name,
        "type": "QUEUE",
        "image": container.image,
        "args": "",  # the image's own command (comfy_image/start.sh)
        "disk": container.disk_gb,
        "env": {key: value for key, value in env.items() if value != ""},
        "registry": container.registry_auth_id or None,
        # An explicit [] beside the floor clears a CUDA set an older (v1) apply may have stored.
        "gpu": {
            "pools": spec.gpu_pools,
            "count": spec.gpu_count,
            "allowedCudaVersions": [],
            "minCudaVersion": spec.min_cuda_version,
        },
        "workers": workers,
        "scaling": scaling(spec),
        "networkVolumes": [spec.network_volume_id] if spec.network_volume_id else [],
        "timeout": spec.execution_timeout_s * 1000,  # milliseconds; an omitted one is stored as 0
        "flashboot": spec.flashboot,
    }


def problem(response: httpx.Response) -> str:
    """v2 errors are RFC 9457 problems: title, status, detail, and request-validation messages in errors."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if not isinstance(body, dict) or "detail" not in body:
        return response.text[:500]
    errors = body.get("errors") or []
    return f"{body.get('title', '')}: {body['detail']}" + "".join(f"\n  {error}" for error in errors)


class RestApi:
    """The few calls of RunPod's REST API v2 this needs: list, create and update serverless endpoints."""

    def __init__(self, base_url: str, api_key: str, transport: httpx.BaseTransport | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self._base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(30.0),
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ApiError(f"{method} {path}: {exc}") from exc
        status = response.status_code
        if status == 401:
            raise ApiError(f"{method} {path}: HTTP 401: RUNPOD_API_KEY is missing or wrong")
        if status == 403:
            hint = "the key needs read/write access to Serverless"
            raise ApiError(f"{method} {path}: HTTP 403 {problem(response)}\n({hint})")
        if status in (404, 410) and method == "GET":
            raise ApiError(
                f"{method} {self._base_url}{path}: HTTP {status}: no such API path; RUNPOD_REST_URL should be "
                f"{DEFAULT_API} (REST v1 at rest.runpod.io/v1 was retired on 2026-12-01)"
            )
        if status >= 400:
            raise ApiError(f"{method} {path}: HTTP {status} {problem(response)}")
        return response.json() if response.content else None

    def endpoints(self) -> list[dict[str, Any]]:
        # The v2 schema defines no pagination here: one answer holds every endpoint, wrapped in an object.
        found = self._call("GET", "/serverless")
        if not isinstance(found, dict) or not isinstance(found.get("endpoints"), list):
            raise ApiError(f"GET /serverless: expected {{'endpoints': [...]}} (REST v2), got {str(found)[:200]}")
        endpoints: list[dict[str, Any]] = found["endpoints"]
        return endpoints

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self._call("POST", "/serverless", body)
        return created

    def update(self, endpoint_id: str, body: dict[str, Any]) -> None:
        self._call("PATCH", f"/serverless/{endpoint_id}", body)


def same(current: Any, wanted: Any, key: str = "") -> bool:
    """Whether what RunPod holds already says what is wanted (fields RunPod adds, like excludedTypes, aside)."""
    if isinstance(wanted, dict) and key != "env":  # env is replaced whole: a variable no longer declared goes
        return isinstance(current, dict) and all(same(current.get(k), v, k) for k, v in wanted.items())
    if key in UNORDERED and isinstance(current, list):
        return sorted(map(str, current)) == sorted(map(str, wanted))
    return bool(current == wanted)


def find(items: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    # RunPod may show a FlashBoot endpoint's name with a " -fb" suffix.
    return next((item for item in items if item.get("name") in (name, f"{name} -fb")), None)


def apply(declaration: Declaration, api: RestApi, dry_run: bool) -> str:
    """Make the named endpoint match; return its id ('(new)' in a dry run) after printing what was done."""
    wanted = endpoint_body(declaration)
    label = f"endpoint {wanted['name']}"
    current = find(api.endpoints(), wanted["name"])
    if current is None:
        print(f"{label}: create" + (" (dry run)" if dry_run else ""))
        return "(new)" if dry_run else str(api.create(wanted)["id"])
    changed = {k: v for k, v in wanted.items() if k != "name" and not same(current.get(k), v, k)}
    if "type" in changed:  # not a field of v2's UpdateEndpointRequest
        raise ApiError(f"{label} is a {current.get('type')} endpoint and v2 cannot change that: rename endpoint.name")
    if not changed:
        print(f"{label}: no change ({current['id']})")
    for key, value in changed.items():
        print(f"{label}: {key} {json.dumps(current.get(key))} -> {json.dumps(value)}" + (" (dry run)" * dry_run))
    if changed and not dry_run:
        api.update(str(current["id"]), changed)
    return str(current["id"])


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the declaration (default: runpod.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show", help="print the endpoint's request body; no API call")
    run = sub.add_parser("apply", help="create or update the endpoint")
    run.add_argument("--dry-run", action="store_true", help="read the account and print the changes only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        declaration = load(args.file, os.environ)
    except DeclarationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "show":
        print(json.dumps(endpoint_body(declaration), indent=2))
        return 0
    api_key = os.environ.get("RUNPOD_API_KEY", "")
    if not api_key:
        print("error: set RUNPOD_API_KEY (RunPod console, Settings, API Keys)", file=sys.stderr)
        return 2
    api = RestApi(os.environ.get("RUNPOD_REST_URL", DEFAULT_API), api_key)
    try:
        apply(declaration, api, args.dry_run)
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        api.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
