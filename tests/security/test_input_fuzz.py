"""Fuzzing the job input through the real worker's input path (``Worker.handle``, as RunPod calls it).

A deterministic generated corpus: every field of the job input (handler/schema.py), of the presets' params
(workflows/) and of a raw workflow's node inputs gets every hostile value, plus seeded random combinations of them.
Each job must end in a specific error (or run safely), never INTERNAL, and the next job must still succeed.
Nothing connects outside loopback: every URL in the corpus is refused before any connection (checked).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest
import urllib3.connection

from tests.handler import graphs
from tests.handler.helpers import ok
from workflows.contract import ErrorCode, parse_error

SEED = 20261202
RANDOM_CASES = 150


def nested(depth: int, leaf: Any = 1) -> Any:
    value: Any = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


HOSTILE_HOSTS = [
    "a" * 64 + ".example.com",  # a label over 63 characters: the IDNA codec refuses it
    "a." * 130 + "com",  # a name over 253 characters
    "xn--.example.com",
    "exa\u0000mple.com",
    "exa mple.com",
    "..",
    "[::1]",
    "[64:ff9b::7f00:1]",
    "[2002:a9fe:a9fe::]",
    "[::ffff:169.254.169.254]",
    "[fec0::1]",
    "[2001::1]",
    "[::127.0.0.1]",
    "169.254.169.254",
    "0x7f.1",
    "2130706433",
    "256.256.256.256",
    "localhost",
    "\u2100.example.com",
    "[::1%25eth0]",
    "[zz::1]",
]
HOSTILE_URLS = [
    *(f"https://{host}/x.png" for host in HOSTILE_HOSTS),
    "https://user:pw@example.invalid/x.png",
    "https://example.invalid:99999/x.png",
    "https://example.invalid:-1/x.png",
    "http://10.0.0.1/x.png",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "https://",
    "https:///x.png",
    "https://[/x.png",
]
HOSTILE_STRINGS = [
    "",
    "\x00",
    "a" * 100_000,
    "../../../etc/passwd",
    "/etc/passwd",
    "con.png",
    "x.png [output]",
    "%s%n%x",
    "\ud800",
    "\uff33\uff24\uff38\uff2c",  # full-width SDXL
    "sdxl\x00",
    "\u202etxt.png",
    *HOSTILE_URLS,
]
HOSTILE_NUMBERS: list[Any] = [
    -1,
    0,
    2**31,
    2**53 + 1,
    2**63,
    2**64,
    10**400,
    -(10**400),
    1e308,
    -1e308,
    float("inf"),
    float("nan"),
    -0.0,
    0.5,
    True,
]
HOSTILE_VALUES: list[Any] = [
    None,
    *HOSTILE_NUMBERS,
    *HOSTILE_STRINGS,
    [],
    {},
    [None] * 1000,
    {"k" * 10_000: 1},
    nested(5000),
    nested(200),
]

BASE_INPUTS: dict[str, dict[str, Any]] = {
    "workflow": {"workflow": graphs.empty_image(16, 16)},
    "sdxl": {"preset": "sdxl", "params": {"prompt": "a fox"}},
    "liveportrait": {"preset": "liveportrait", "params": {"photo": "AAAA", "duration": 10}},
}
TOP_FIELDS = ["workflow", "preset", "params", "images", "s3", "delivery", "unknown"]
PARAMS = {
    "sdxl": ["prompt", "negative_prompt", "seed", "steps", "cfg", "width", "height", "batch_size", "aspect", "style"],
    "liveportrait": ["photo", "duration", "fps", "intensity", "seed", "prompt"],
}
# A store no resolver knows (RFC 6761): with a hostile field swapped in, nothing may be uploaded anywhere, and
# base64 delivery keeps a case that passes every check from uploading to the default AWS endpoint.
S3_BASE = {"bucket": "b", "endpoint_url": "https://s3.example.invalid", "access_key_id": "k", "secret_access_key": "s"}
BASE_ONLY_BASE64 = {"workflow": graphs.empty_image(16, 16), "delivery": "base64"}
S3_FIELDS = ["bucket", "endpoint_url", "region", "access_key_id", "secret_access_key", "prefix"]


def _cases() -> Iterator[tuple[str, dict[str, Any]]]:
    """(case id, RunPod job without its id) for every field x hostile value, then random combinations."""
    yield "input-deep", {"input": nested(5000)}
    for i, value in enumerate(HOSTILE_VALUES):
        yield f"input[{i}]", {"input": value}
        for field in TOP_FIELDS:
            yield f"{field}[{i}]", {"input": {**BASE_INPUTS["workflow"], field: value}}
        for preset, names in PARAMS.items():
            base = BASE_INPUTS[preset]
            for name in names:
                yield f"{preset}.{name}[{i}]", {"input": {**base, "params": {**base["params"], name: value}}}
        for key in ("name", "image"):
            image = {"name": "in.png", "image": "AAAA", key: value}
            yield f"images.{key}[{i}]", {"input": {**BASE_INPUTS["workflow"], "images": [image]}}
        for key in S3_FIELDS:
            s3 = {**S3_BASE, key: value}
            yield f"s3.{key}[{i}]", {"input": {**BASE_INPUTS["workflow"], "s3": s3, "delivery": "base64"}}
        yield f"s3Config[{i}]", {"input": BASE_ONLY_BASE64, "s3Config": value}
        for key in ("bucketName", "endpointUrl", "accessId", "accessSecret"):
            config = {"bucketName": "b", "endpointUrl": "https://s3.example.invalid", key: value}
            yield f"s3Config.{key}[{i}]", {"input": BASE_ONLY_BASE64, "s3Config": config}
        for key in ("width", "height", "batch_size", "color"):
            graph = graphs.empty_image(16, 16)
            graph["1"]["inputs"][key] = value
            yield f"EmptyImage.{key}[{i}]", {"input": {"workflow": graph}}
        graph = graphs.empty_image(16, 16)
        graph["2"]["inputs"]["filename_prefix"] = value
        yield f"SaveImage.prefix[{i}]", {"input": {"workflow": graph}}
        if isinstance(value, str):
            yield f"node-id[{i}]", {"input": {"workflow": {value[:1000]: graph["1"], "2": graph["2"]}}}
            yield f"class_type[{i}]", {"input": {"workflow": {"1": {"class_type": value, "inputs": {}}}}}
    for url in HOSTILE_URLS:
        photo = {"preset": "liveportrait", "params": {"photo": url}}
        yield f"photo-url {url[:40]}", {"input": photo}
        images = [{"name": "in.png", "image": url}]
        yield f"image-url {url[:40]}", {"input": {"workflow": graphs.load_image("in.png"), "images": images}}
        s3 = {**S3_BASE, "endpoint_url": url}
        yield f"s3-endpoint {url[:40]}", {"input": {**BASE_INPUTS["workflow"], "s3": s3}}
    yield from _random_cases()


def _random_cases() -> Iterator[tuple[str, dict[str, Any]]]:
    rng = random.Random(SEED)
    for n in range(RANDOM_CASES):
        preset = rng.choice(list(PARAMS))
        params = {name: rng.choice(HOSTILE_VALUES) for name in rng.sample(PARAMS[preset], rng.randint(1, 4))}
        job: dict[str, Any] = {"preset": preset, "params": params}
        if rng.random() < 0.3:
            job["images"] = [{"name": rng.choice(HOSTILE_STRINGS), "image": rng.choice(HOSTILE_STRINGS)}]
        if rng.random() < 0.3:
            job["s3"] = {**S3_BASE, **{key: rng.choice(HOSTILE_VALUES) for key in rng.sample(S3_FIELDS, 3)}}
            job["delivery"] = "base64"
        yield f"random[{n}]", {"input": job}


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Records every TCP connection httpcore (image URLs, pinned S3 endpoints) or urllib3 (boto3) would open, and
    refuses it."""
    attempts: list[tuple[str, int]] = []

    def refuse(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        attempts.append((host, port))
        raise httpcore.ConnectError("the fuzz test connects nowhere")

    def refuse_urllib3(self: Any) -> Any:
        attempts.append((self.host, self.port))
        raise OSError("the fuzz test connects nowhere")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", refuse)
    monkeypatch.setattr(urllib3.connection.HTTPConnection, "connect", refuse_urllib3)
    return attempts


async def test_every_hostile_input_gets_a_specific_error(worker: Any, no_connections: list[Any]) -> None:
    internal: list[tuple[str, str]] = []
    count = 0
    for case_id, job in _cases():
        count += 1
        try:
            result = await worker.handle({"id": f"fuzz-{uuid.uuid4().hex[:8]}", **job})
        except Exception as exc:  # the handler itself broke: as bad as INTERNAL
            internal.append((case_id, repr(exc)[:200]))
            continue
        if "error" not in result:
            continue  # neutralised and run safely (e.g. a hostile save prefix)
        error = parse_error(result["error"])
        if error.code is ErrorCode.INTERNAL or not error.message:
            internal.append((case_id, error.message))
    assert count > 2000
    assert not internal, f"{len(internal)} inputs gave INTERNAL: {internal[:20]}"
    assert not no_connections, f"connections attempted: {no_connections[:5]}"
    ok(await worker.handle({"id": "fuzz-after", "input": {"workflow": graphs.empty_image()}}))
