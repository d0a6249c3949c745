"""Apply the endpoint declared in ``runpod.toml`` through RunPod's REST API: create or update, idempotently.

::

    python -m comfy_image.deploy_endpoint show                 # the request bodies, no API call
    python -m comfy_image.deploy_endpoint apply --dry-run      # what would change (reads the account)
    python -m comfy_image.deploy_endpoint apply                # make it so

The template and the endpoint are found by name. Missing: created. Present: only the fields that differ from
the declaration are sent (PATCH); equal: nothing is written. ``${NAME}`` / ``${NAME:-default}`` in the file come
from the environment. ``RUNPOD_API_KEY`` authenticates (a key with read/write access to Serverless and
Templates); ``RUNPOD_REST_URL`` overrides ``https://rest.runpod.io/v1`` (tests point it at a local stand-in).
Exit status: 0 done (or nothing to do), 1 the API refused something, 2 a bad declaration or setting.
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
DEFAULT_API = "https://rest.runpod.io/v1"
DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$")
VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(:-([^}]*))?\}")
CUDA_VERSIONS = ("13.0", "12.9", "12.8", "12.7", "12.6", "12.5", "12.4", "12.3", "12.2", "12.1", "12.0", "11.8")
VAULT_NAME = r"^[A-Za-z0-9_]+$"  # RunPod secret names


class DeclarationError(Exception):
    """runpod.toml (or the environment it reads) does not describe a deployable endpoint."""


class ApiError(Exception):
    """RunPod's API refused a request."""


class TemplateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    image: str = Field(pattern=DIGEST_REF.pattern, description="by digest, so a rollback is one field")
    container_disk_gb: int = Field(ge=5, le=200)
    registry_auth_id: str = ""
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict, description="env name -> RunPod secret name")


class EndpointSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    gpu_type_ids: list[str] = Field(min_length=1)
    gpu_count: int = Field(ge=1, le=8)
    allowed_cuda_versions: list[Literal[CUDA_VERSIONS]] = Field(min_length=1)  # type: ignore[valid-type]
    workers_min: int = Field(ge=0)
    workers_max: int = Field(ge=1)
    idle_timeout_s: int = Field(ge=1, le=3600)
    execution_timeout_s: int = Field(ge=5)
    flashboot: bool
    scaler_type: Literal["QUEUE_DELAY", "REQUEST_COUNT"]
    scaler_value: int = Field(ge=1)
    network_volume_id: str = ""


class Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: TemplateSpec
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
    for env_name, secret in declaration.template.secrets.items():
        if not re.match(VAULT_NAME, secret) or env_name in declaration.template.env:
            raise DeclarationError(f"{path}: secret {env_name} = {secret!r}: a RunPod secret name, not also in env")
    if declaration.endpoint.workers_min > declaration.endpoint.workers_max:
        raise DeclarationError(f"{path}: endpoint.workers_min is above workers_max")
    return declaration


def template_body(spec: TemplateSpec) -> dict[str, Any]:
    env = dict(spec.env) | {name: f"{{{{ RUNPOD_SECRET_{secret} }}}}" for name, secret in spec.secrets.items()}
    body: dict[str, Any] = {
        "name": spec.name,
        "imageName": spec.image,
        "containerDiskInGb": spec.container_disk_gb,
        "volumeInGb": 0,
        "env": {key: value for key, value in env.items() if value != ""},
        "dockerStartCmd": [],
    }
    if spec.registry_auth_id:
        body["containerRegistryAuthId"] = spec.registry_auth_id
    return body


def endpoint_body(spec: EndpointSpec, template_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": spec.name,
        "templateId": template_id,
        "gpuTypeIds": spec.gpu_type_ids,
        "gpuCount": spec.gpu_count,
        "allowedCudaVersions": list(spec.allowed_cuda_versions),
        "workersMin": spec.workers_min,
        "workersMax": spec.workers_max,
        "idleTimeout": spec.idle_timeout_s,
        "executionTimeoutMs": spec.execution_timeout_s * 1000,
        "flashboot": spec.flashboot,
        "scalerType": spec.scaler_type,
        "scalerValue": spec.scaler_value,
    }
    if spec.network_volume_id:
        body["networkVolumeId"] = spec.network_volume_id
    return body


class RestApi:
    """The few calls of RunPod's REST API this needs: list, create and update templates and endpoints."""

    def __init__(self, base_url: str, api_key: str, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
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
        if response.status_code == 401:
            raise ApiError(f"{method} {path}: HTTP 401: RUNPOD_API_KEY is missing, wrong or lacks this permission")
        if response.status_code in (404, 410) and method == "GET":
            raise ApiError(
                f"{method} {path}: HTTP {response.status_code}: this API version may be retired (RunPod announced "
                "REST v1's end for 2026-11-15); create the endpoint in the console instead (docs/deploy.md, step 6)"
            )
        if response.status_code >= 400:
            raise ApiError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def list(self, kind: str) -> list[dict[str, Any]]:
        found = self._call("GET", f"/{kind}")
        if not isinstance(found, list):
            raise ApiError(f"GET /{kind}: expected a list, got {type(found).__name__}")
        return found

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self._call("POST", f"/{kind}", body)
        return created

    def update(self, kind: str, item_id: str, body: dict[str, Any]) -> None:
        self._call("PATCH", f"/{kind}/{item_id}", body)


def differences(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The wanted fields whose current value differs (lists of ids compare as ordered: order is priority)."""
    return {key: value for key, value in wanted.items() if current.get(key) != value}


def find(items: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    # RunPod may show a FlashBoot endpoint's name with a " -fb" suffix.
    return next((item for item in items if item.get("name") in (name, f"{name} -fb")), None)


def reconcile(api: RestApi, kind: str, wanted: dict[str, Any], dry_run: bool, create_only: dict[str, Any]) -> str:
    """Make one named object match; return its id ('(new)' in a dry run) after printing what was done."""
    current = find(api.list(kind), wanted["name"])
    label = f"{kind[:-1]} {wanted['name']}"
    if current is None:
        print(f"{label}: create" + (" (dry run)" if dry_run else ""))
        return "(new)" if dry_run else str(api.create(kind, wanted | create_only)["id"])
    changed = differences(current, {k: v for k, v in wanted.items() if k != "name"})
    if not changed:
        print(f"{label}: no change ({current['id']})")
    for key, value in changed.items():
        print(f"{label}: {key} {json.dumps(current.get(key))} -> {json.dumps(value)}" + (" (dry run)" * dry_run))
    if changed and not dry_run:
        api.update(kind, str(current["id"]), changed)
    return str(current["id"])


def apply(declaration: Declaration, api: RestApi, dry_run: bool) -> None:
    template_id = reconcile(api, "templates", template_body(declaration.template), dry_run, {"isServerless": True})
    body = endpoint_body(declaration.endpoint, template_id)
    reconcile(api, "endpoints", body, dry_run, {"computeType": "GPU"})


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the declaration (default: runpod.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show", help="print the template and endpoint request bodies; no API call")
    run = sub.add_parser("apply", help="create or update the template and the endpoint")
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
        bodies = {"template": template_body(declaration.template)}
        bodies["endpoint"] = endpoint_body(declaration.endpoint, "<template id>")
        print(json.dumps(bodies, indent=2))
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
