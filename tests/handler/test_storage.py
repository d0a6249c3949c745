"""Outputs delivered to S3 (moto's server over real HTTP) or inline as base64."""

from __future__ import annotations

from typing import Any

import boto3
import httpx
import pytest

from tests.handler import graphs
from tests.handler.helpers import failed, ok, run_job


@pytest.fixture
def loopback_worker(worker: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The worker with the development switch on: per-request endpoints may be moto's server on 127.0.0.1."""
    monkeypatch.setattr(worker.settings, "allow_loopback_urls", True)
    return worker


def _client(bucket: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=bucket["endpoint_url"],
        region_name=bucket["region"],
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


async def test_configured_bucket_receives_outputs(
    worker: Any, s3_bucket: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (
        ("s3_bucket", s3_bucket["bucket"]),
        ("s3_endpoint_url", s3_bucket["endpoint_url"]),
        ("s3_region", "us-east-1"),
        ("s3_access_key_id", "test"),
        ("s3_prefix", "results"),
    ):
        monkeypatch.setattr(worker.settings, name, value)
    monkeypatch.setattr(worker.settings, "s3_secret_access_key", __import__("pydantic").SecretStr("test"))
    out = ok(await run_job(worker, {"workflow": graphs.video(frames=6)}, job_id="s3-job-1"))
    [item] = out.outputs
    assert item.data is None and item.url and item.key
    assert item.key == f"results/s3-job-1/{item.filename}"
    head = _client(s3_bucket).head_object(Bucket=s3_bucket["bucket"], Key=item.key)
    assert head["ContentType"] == "video/mp4"
    assert head["ContentLength"] == item.size
    async with httpx.AsyncClient() as client:
        downloaded = await client.get(item.url)
    assert downloaded.status_code == 200
    stored = _client(s3_bucket).get_object(Bucket=s3_bucket["bucket"], Key=item.key)["Body"].read()
    assert downloaded.content == stored
    assert "X-Amz-Expires=604800" in item.url and "X-Amz-Signature=" in item.url


async def test_per_request_override_and_base64_fallback(loopback_worker: Any, s3_bucket: dict[str, str]) -> None:
    override = {k: s3_bucket[k] for k in ("bucket", "endpoint_url", "region", "access_key_id", "secret_access_key")}
    out = ok(
        await run_job(
            loopback_worker,
            {"workflow": graphs.empty_image(), "s3": {**override, "prefix": "mine"}},
            job_id="override-1",
        )
    )
    [item] = out.outputs
    assert item.key == f"mine/override-1/{item.filename}"
    head = _client(s3_bucket).head_object(Bucket=s3_bucket["bucket"], Key=item.key)
    assert head["ContentType"] == "image/png"
    inline = ok(
        await run_job(loopback_worker, {"workflow": graphs.empty_image(), "s3": override, "delivery": "base64"})
    )
    assert inline.outputs[0].data and inline.outputs[0].url is None


async def test_runpod_s3config_is_honoured(loopback_worker: Any, s3_bucket: dict[str, str]) -> None:
    s3_config = {
        "accessId": "test",
        "accessSecret": "test",
        "bucketName": s3_bucket["bucket"],
        "endpointUrl": s3_bucket["endpoint_url"],
    }
    out = ok(await run_job(loopback_worker, {"workflow": graphs.empty_image()}, job_id="rp-1", s3Config=s3_config))
    assert out.outputs[0].key == f"outputs/rp-1/{out.outputs[0].filename}"


async def test_upload_failure_is_storage_failed(loopback_worker: Any, s3_bucket: dict[str, str]) -> None:
    override = {
        "bucket": "no-such-bucket-here",
        "endpoint_url": s3_bucket["endpoint_url"],
        "region": "us-east-1",
        "access_key_id": "test",
        "secret_access_key": "test",
    }
    error = failed(await run_job(loopback_worker, {"workflow": graphs.empty_image(), "s3": override}))
    assert error.code == "STORAGE_FAILED"
    assert error.retryable is True
    ok(await run_job(loopback_worker, {"workflow": graphs.empty_image()}))


async def test_too_large_for_base64_is_a_clear_error(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.settings, "max_base64_bytes", 100)
    error = failed(await run_job(worker, {"workflow": graphs.empty_image(256, 256)}))
    assert error.code == "INVALID_INPUT"
    assert "S3" in error.message


async def test_s3_delivery_without_bucket_is_refused(worker: Any) -> None:
    error = failed(await run_job(worker, {"workflow": graphs.empty_image(), "delivery": "s3"}))
    assert (error.code, error.details["field"]) == ("INVALID_INPUT", "delivery")


async def test_large_outputs_go_through_the_transfer_manager(
    loopback_worker: Any, s3_bucket: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import handler.storage

    monkeypatch.setattr(handler.storage, "SINGLE_PUT_MAX_BYTES", 0)
    override = {k: s3_bucket[k] for k in ("bucket", "endpoint_url", "region", "access_key_id", "secret_access_key")}
    out = ok(await run_job(loopback_worker, {"workflow": graphs.video(frames=4), "s3": override}))
    head = _client(s3_bucket).head_object(Bucket=s3_bucket["bucket"], Key=out.outputs[0].key)
    assert (head["ContentType"], head["ContentLength"]) == ("video/mp4", out.outputs[0].size)
