"""The local endpoint's limits over real HTTP on 127.0.0.1 (one real worker process behind it): bodies capped while
they are read, 400 for out-of-range policy values, per-caller rate limits, webhooks only where the address policy
allows, and a job's input dropped once a worker took it. Each attack is followed by a job that succeeds."""

from __future__ import annotations

import asyncio
import json
import logging
import select
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from handler.local_endpoint import EndpointServer
from handler.settings import WorkerSettings
from tests.endpoint.conftest import endpoint_worker_settings, fast_endpoint_settings
from tests.endpoint.support import WebhookReceiver, blank_job
from tests.security.test_address_policy import fake_dns  # noqa: F401 (fixture)

CAP = 64 * 1024


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory, worker_settings: WorkerSettings) -> Iterator[EndpointServer]:
    settings = fast_endpoint_settings(
        max_run_bytes=CAP,
        max_runsync_bytes=CAP,
        rate_limits={"stream": 3, "run": 1000, "runsync": 1000, "status": 1000},
        max_execution_timeout_ms=3_600_000,
        # The secure defaults (the test suite's shared endpoint lifts both).
        allow_loopback_webhooks=False,
        keep_input_for_retry=False,
    )
    work = endpoint_worker_settings(worker_settings, tmp_path_factory.mktemp("security-endpoint"))
    server = EndpointServer(settings, work).start_in_thread()
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
async def http(endpoint: EndpointServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{endpoint.url}/local", timeout=60) as client:
        yield client


async def _completes(http: httpx.AsyncClient) -> None:
    """The next job still runs to COMPLETED."""
    answer = await http.post("/runsync", json={"input": blank_job()}, params={"wait": 60_000})
    assert answer.status_code == 200 and answer.json()["status"] == "COMPLETED", answer.text


def _raw_post(port: int, path: str, head: dict[str, str], chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """POST over a plain socket, stopping as soon as the server answers; (answer, body bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in head.items()), "", ""]
    sock.sendall("\r\n".join(lines).encode())
    sent = 0
    try:
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # answered: stop sending
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    return answer, sent


def _port(endpoint: EndpointServer) -> int:
    return endpoint.port


async def test_a_body_without_content_length_is_refused_once_past_the_cap(
    endpoint: EndpointServer, http: httpx.AsyncClient
) -> None:
    def chunked() -> Iterator[bytes]:
        opening = b'{"input": {"x": "'  # a body that would be valid JSON if it ever ended
        yield f"{len(opening):x}\r\n".encode() + opening + b"\r\n"
        data = b"a" * 16384
        frame = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        for _ in range(8192):  # up to 128 MB offered
            yield frame

    head = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    answer, sent = await asyncio.to_thread(_raw_post, _port(endpoint), "/v2/local/run", head, chunked())
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # Refused while reading: what was sent past the cap is what the sockets buffer (a few MB), not the 128 MB.
    assert sent < 32 * 1024 * 1024
    await _completes(http)


async def test_a_declared_oversize_body_is_refused_before_it_is_sent(
    endpoint: EndpointServer, http: httpx.AsyncClient
) -> None:
    head = {"Content-Type": "application/json", "Content-Length": str(10**9)}
    answer, sent = await asyncio.to_thread(_raw_post, _port(endpoint), "/v2/local/run", head, iter([]))
    assert answer.startswith(b"HTTP/1.1 413") and sent == 0, answer[:200]
    await _completes(http)


@pytest.mark.parametrize(
    "policy",
    [
        {"executionTimeout": 10**30},
        {"executionTimeout": 2**53 + 1},
        {"executionTimeout": 3_600_001},  # over this endpoint's MAX_EXECUTION_TIMEOUT_MS
        {"executionTimeout": -1},
        {"executionTimeout": 1.5},
        {"executionTimeout": "forever"},
        {"ttl": 10**30},
        {"ttl": 8 * 24 * 3600 * 1000},  # over MAX_TTL_MS
        {"ttl": 0},
        {"ttl": float("inf")},
        {"lowPriority": "yes please"},
        {"unknown": 1},
    ],
)
async def test_out_of_range_policy_values_are_400(http: httpx.AsyncClient, policy: dict[str, Any]) -> None:
    body = json.dumps({"input": blank_job(), "policy": policy}, allow_nan=True)
    answer = await http.post("/run", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, (policy, answer.status_code, answer.text)
    assert "error" in answer.json()
    await _completes(http)


async def test_out_of_range_query_values_are_400(http: httpx.AsyncClient) -> None:
    job = (await http.post("/run", json={"input": blank_job()})).json()["id"]
    for ttl in (str(10**30), "-5", "0", "1e99"):
        answer = await http.get(f"/status/{job}", params={"ttl": ttl})
        assert answer.status_code == 400, (ttl, answer.text)
    for wait in (str(10**30), "-1", "soon"):
        answer = await http.post("/runsync", json={"input": blank_job()}, params={"wait": wait})
        assert answer.status_code == 400, (wait, answer.text)
    await _completes(http)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"input": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"input": []}',
        b'{"input": {}, "webhook": "javascript:alert(1)"}',
    ],
)
async def test_malformed_bodies_are_400(http: httpx.AsyncClient, body: bytes) -> None:
    answer = await http.post("/run", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, (body[:40], answer.status_code, answer.text[:200])
    await _completes(http)


async def test_rate_limits_count_per_caller(endpoint: EndpointServer, http: httpx.AsyncClient) -> None:
    """/stream allows 3 requests per window here: a noisy 127.0.0.1 is limited, 127.0.0.2 is not."""
    answers = [(await http.get("/stream/no-such-job")).status_code for _ in range(4)]
    assert answers == [404, 404, 404, 429]
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=f"{endpoint.url}/local", transport=transport, timeout=30) as other:
        assert (await other.get("/stream/no-such-job")).status_code == 404
    await _completes(http)


@pytest.mark.parametrize(
    "webhook",
    [
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/hook",
        "https://[64:ff9b::a00:1]/hook",
        "https://[2002:a9fe:a9fe::1]/hook",
        "https://[fec0::1]/hook",
        "http://example.com/hook",  # plain http outside development
        "https://user:pw@example.com/hook",
        "https://" + "a" * 64 + ".example.com/hook",
    ],
)
async def test_webhooks_the_policy_refuses_are_400(http: httpx.AsyncClient, webhook: str) -> None:
    answer = await http.post("/run", json={"input": blank_job(), "webhook": webhook})
    assert answer.status_code == 400, (webhook, answer.text)
    await _completes(http)


async def test_a_webhook_name_resolving_to_loopback_is_never_called(
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    fake_dns: dict[str, list[list[str]]],  # noqa: F811
) -> None:
    receiver = WebhookReceiver([200])
    fake_dns["hook.test"] = [["127.0.0.1"]] * 3  # (``localhost`` itself is refused at submission)
    try:
        port = receiver.url.split(":")[2].split("/")[0]
        with caplog.at_level(logging.WARNING, logger="handler.local_endpoint.webhooks"):
            job = (
                await http.post("/run", json={"input": blank_job(), "webhook": f"https://hook.test:{port}/h"})
            ).json()
            async with asyncio.timeout(60):
                while not any(r.getMessage() == "webhook refused" for r in caplog.records):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        refused = next(r for r in caplog.records if r.getMessage() == "webhook refused")
        assert getattr(refused, "job_id", None) == job["id"]
        assert receiver.bodies == []
    finally:
        receiver.close()
    await _completes(http)


async def test_a_jobs_input_is_dropped_once_a_worker_took_it(endpoint: EndpointServer, http: httpx.AsyncClient) -> None:
    secret_prompt = {"input": blank_job() | {"delivery": "base64"}}
    done = (await http.post("/runsync", json=secret_prompt, params={"wait": 60_000})).json()
    assert done["status"] == "COMPLETED"
    held = endpoint.call(lambda: endpoint.endpoint.jobs[done["id"]].request)
    assert held.input == {} and held.s3Config is None
    # A failed job can still be read, but not retried: its input is gone.
    failing = {"input": {"workflow": {"1": {"class_type": "NoSuchNode", "inputs": {}}}}}
    failed_job = (await http.post("/runsync", json=failing, params={"wait": 60_000})).json()
    assert failed_job["status"] == "FAILED"
    retry = await http.post(f"/retry/{failed_job['id']}")
    assert retry.status_code == 400 and "dropped" in retry.json()["error"]
    await _completes(http)


FUZZ_VALUES: list[Any] = [
    None,
    True,
    -1,
    0,
    1.5,
    2**53 + 1,
    10**30,
    -(10**30),
    1e308,
    "",
    "x" * 3000,
    "\x00",
    "https://10.0.0.1/",
    "https://[64:ff9b::a00:1]/",
    "https://" + "a" * 64 + ".com/",
    [],
    {},
    {"nested": [[[[[[1]]]]]]},
]


async def test_fuzzed_run_requests_are_never_a_server_error(http: httpx.AsyncClient) -> None:
    """Every field of a /run body with every hostile value: 200 (the job is queued) or 400, never a 5xx."""
    quick = {"workflow": {}}  # a job the worker refuses at once
    bodies: list[dict[str, Any]] = []
    for value in FUZZ_VALUES:
        bodies.append({"input": value})
        bodies.append({"input": quick, "webhook": value})
        bodies.append({"input": quick, "unknown": value})
        for field in ("executionTimeout", "ttl", "lowPriority", "other"):
            bodies.append({"input": quick, "policy": {field: value}})
        bodies.append({"input": quick, "policy": value})
        bodies.append({"input": quick, "s3Config": value})
        for field in ("accessId", "accessSecret", "bucketName", "endpointUrl"):
            config = {"accessId": "a", "accessSecret": "s", "bucketName": "b", "endpointUrl": "https://s3.invalid"}
            bodies.append({"input": quick, "s3Config": {**config, field: value}})
    statuses = []
    for body in bodies:
        answer = await http.post(
            "/run", content=json.dumps(body, allow_nan=True), headers={"Content-Type": "application/json"}
        )
        statuses.append(answer.status_code)
        assert answer.status_code in (200, 400), (body, answer.status_code, answer.text[:200])
    assert statuses.count(400) > len(bodies) // 2
    await http.post("/purge-queue")
    await _completes(http)
