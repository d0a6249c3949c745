"""Storage credentials through the real worker: its keys sign only for its own store (endpoint and bucket); a
request naming another store must bring its own keys; every request-supplied endpoint passes the address policy.

The worker's store is moto's server on loopback; the "other store" is a loopback HTTP server that records every
request, so a leak of the worker's signature would be seen.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from tests.handler import graphs
from tests.handler.helpers import failed, ok, run_job
from workflows.contract import ErrorCode

WORKER_KEY_ID = "worker-key-id-7f3a"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def _record(self) -> None:
        self.seen.append((self.command, self.headers.get("Authorization", "")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_POST = do_HEAD = _record

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def other_store() -> Iterator[str]:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def store_worker(worker: Any, s3_bucket: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real worker configured with its own bucket on moto, and loopback allowed (development setting) so that
    only the credential rule can refuse a loopback "other store"."""
    for name, value in (
        ("s3_bucket", s3_bucket["bucket"]),
        ("s3_endpoint_url", s3_bucket["endpoint_url"]),
        ("s3_region", "us-east-1"),
        ("s3_access_key_id", WORKER_KEY_ID),
        ("allow_loopback_urls", True),
    ):
        monkeypatch.setattr(worker.settings, name, value)
    monkeypatch.setattr(worker.settings, "s3_secret_access_key", SecretStr("worker-secret"))
    return worker


def _refused_for_credentials(result: dict[str, Any]) -> None:
    error = failed(result)
    assert error.code is ErrorCode.INVALID_INPUT, error
    assert error.details.get("field") in ("s3", "s3Config"), error
    assert "own" in error.message or "both" in error.message, error.message


async def test_another_endpoint_without_keys_is_refused(
    store_worker: Any, s3_bucket: dict[str, str], other_store: str
) -> None:
    job = {"workflow": graphs.empty_image(), "s3": {"bucket": s3_bucket["bucket"], "endpoint_url": other_store}}
    _refused_for_credentials(await run_job(store_worker, job))
    assert _Recorder.seen == []  # the worker's signature never went anywhere


async def test_another_bucket_without_keys_is_refused(store_worker: Any) -> None:
    job = {"workflow": graphs.empty_image(), "s3": {"bucket": "someone-elses-bucket"}}
    _refused_for_credentials(await run_job(store_worker, job))


async def test_runpod_s3config_naming_another_store_without_keys_is_refused(
    store_worker: Any, other_store: str
) -> None:
    config = {"bucketName": "theirs", "endpointUrl": other_store, "accessId": "", "accessSecret": ""}
    _refused_for_credentials(await run_job(store_worker, {"workflow": graphs.empty_image()}, s3Config=config))
    assert _Recorder.seen == []


async def test_half_a_key_pair_is_refused(store_worker: Any, other_store: str) -> None:
    for keys in ({"access_key_id": "mine"}, {"secret_access_key": "mine"}):
        job = {"workflow": graphs.empty_image(), "s3": {"bucket": "theirs", "endpoint_url": other_store, **keys}}
        _refused_for_credentials(await run_job(store_worker, job))
    assert _Recorder.seen == []


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://10.0.0.1:9000",
        "https://169.254.169.254",
        "https://[64:ff9b::a9fe:a9fe]",
        "https://[2002:a00:1::1]",
        "https://[fec0::1]",
        "https://100.64.0.1",
        "file:///etc/passwd",
        "https://" + "a" * 64 + ".example.com",
    ],
)
async def test_request_endpoints_pass_the_address_policy(store_worker: Any, endpoint: str) -> None:
    s3 = {"bucket": "theirs", "endpoint_url": endpoint, "access_key_id": "mine", "secret_access_key": "mine"}
    error = failed(await run_job(store_worker, {"workflow": graphs.empty_image(), "s3": s3}))
    assert (error.code, error.details.get("field")) == (ErrorCode.INVALID_INPUT, "s3"), error
    assert "s3.endpoint_url" in error.message or "host" in error.message, error.message


async def test_loopback_endpoint_needs_the_development_setting(
    store_worker: Any, other_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_worker.settings, "allow_loopback_urls", False)
    s3 = {"bucket": "theirs", "endpoint_url": other_store, "access_key_id": "mine", "secret_access_key": "mine"}
    error = failed(await run_job(store_worker, {"workflow": graphs.empty_image(), "s3": s3}))
    assert (error.code, error.details.get("field")) == (ErrorCode.INVALID_INPUT, "s3"), error
    assert _Recorder.seen == []


async def test_own_store_and_own_keys_still_work(store_worker: Any, s3_bucket: dict[str, str]) -> None:
    # The worker's own bucket (another prefix) is signed with the worker's keys.
    mine = ok(await run_job(store_worker, {"workflow": graphs.empty_image(), "s3": {"bucket": s3_bucket["bucket"]}}))
    assert mine.outputs[0].key
    # Another store (by name) with its own keys: uploaded over a connection the address policy pinned.
    s3 = {
        "bucket": s3_bucket["bucket"],
        "endpoint_url": s3_bucket["endpoint_url"].replace("127.0.0.1", "localhost"),
        "access_key_id": "their-key",
        "secret_access_key": "their-secret",
    }
    theirs = ok(await run_job(store_worker, {"workflow": graphs.empty_image(), "s3": s3}))
    assert theirs.outputs[0].url and "localhost" in theirs.outputs[0].url
    client = boto3.client(
        "s3",
        endpoint_url=s3_bucket["endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    head = client.head_object(Bucket=s3_bucket["bucket"], Key=theirs.outputs[0].key)
    assert head["ContentLength"] == theirs.outputs[0].size
    ok(await run_job(store_worker, {"workflow": graphs.empty_image()}))
