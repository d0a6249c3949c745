"""Output delivery: an S3 object with a presigned URL, or base64 inline when no bucket is configured."""

from __future__ import annotations

import base64
import functools
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from handler import address_policy
from handler.errors import ErrorCode, JobError
from handler.outputs import ProducedFile
from handler.pinned_s3 import PinnedSender
from handler.schema import Delivery, OutputItem, S3Override
from handler.settings import WorkerSettings

log = logging.getLogger(__name__)

# Below this, one PUT beats the transfer manager's threads and multipart requests (benchmarks/worker_vs_server.py).
SINGLE_PUT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class S3Target:
    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str | None
    access_key_id: str | None
    secret_access_key: str | None
    pinned: bool = False  # a request-supplied endpoint: connections go through the address policy
    allow_loopback: bool = False

    def client(self) -> Any:
        return _client(
            self.endpoint_url,
            self.region,
            self.access_key_id,
            self.secret_access_key,
            self.pinned,
            self.allow_loopback,
        )


@functools.lru_cache(maxsize=8)
def _client(
    endpoint_url: str | None,
    region: str | None,
    key_id: str | None,
    secret: str | None,
    pinned: bool = False,
    allow_loopback: bool = False,
) -> Any:
    """One (thread-safe) client per store and credentials: making one and connecting costs ~6 ms a job."""
    # boto3 is imported on first use: most jobs of a base64-delivering worker never need it, and its
    # import is ~2 % of the cold start (benchmarks/worker_overhead.py).
    import boto3
    from botocore.client import Config

    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        # SigV4 so presigned URLs work on every S3-compatible store; path style for custom endpoints.
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )
    if pinned:
        client.meta.events.register("before-send.s3", PinnedSender(allow_loopback))  # the address policy's pool
    return client


def s3_override_from_runpod(s3_config: Any) -> S3Override | None:
    """RunPod's ``s3Config`` ({accessId, accessSecret, bucketName, endpointUrl}) as our override."""
    if not s3_config:
        return None
    if not isinstance(s3_config, dict):
        raise JobError(ErrorCode.INVALID_INPUT, "s3Config must be an object.", field="s3Config")
    if not s3_config.get("bucketName"):
        return None
    try:
        return S3Override(
            bucket=s3_config["bucketName"],
            endpoint_url=s3_config.get("endpointUrl") or None,
            access_key_id=s3_config.get("accessId") or None,
            secret_access_key=s3_config.get("accessSecret") or None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise JobError(ErrorCode.INVALID_INPUT, f"s3Config.{where}: {first['msg']}", field="s3Config") from None


def _invalid_s3(message: str) -> JobError:
    return JobError(ErrorCode.INVALID_INPUT, message, field="s3")


def _own_store(settings: WorkerSettings, override: S3Override) -> bool:
    """Whether the request aims at the worker's configured store: its endpoint and its bucket."""
    same_endpoint = override.endpoint_url is None or override.endpoint_url == settings.s3_endpoint_url
    return same_endpoint and override.bucket == settings.s3_bucket


def _check_endpoint(endpoint_url: str, settings: WorkerSettings) -> str:
    """A request-supplied endpoint must pass the address policy (resolved now; see upload for the connection).
    Returns it as it is used: an IDNA host, no fragment, one botocore accepts (else botocore's ValueError would
    surface only at upload, after the work)."""
    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    try:
        host, port = address_policy.check_url(
            endpoint_url, allow_loopback=settings.allow_loopback_urls, what="s3.endpoint_url"
        )
        address_policy.resolve(host, port, allow_loopback=settings.allow_loopback_urls)
        url = address_policy.ascii_url(endpoint_url, what="s3.endpoint_url")
    except address_policy.AddressRefused as exc:
        raise _invalid_s3(f"{exc}.") from None
    if not (is_valid_endpoint_url(url) or is_valid_ipv6_endpoint_url(url)):
        raise _invalid_s3(
            f"s3.endpoint_url {url[:200]!r} is not a URL botocore accepts (host name labels: letters, digits, '-')."
        )
    return url


def _override_target(settings: WorkerSettings, override: S3Override) -> S3Target:
    prefix = (override.prefix if override.prefix is not None else settings.s3_prefix).strip("/")
    brings_keys = override.access_key_id is not None or override.secret_access_key is not None
    if brings_keys and (override.access_key_id is None or override.secret_access_key is None):
        raise _invalid_s3("s3 needs both access_key_id and secret_access_key, or neither.")
    if not brings_keys:
        # The worker's keys sign only for the worker's own store: never for an endpoint or bucket a caller chose.
        if not _own_store(settings, override):
            raise _invalid_s3(
                "s3 names another endpoint or bucket than the worker's own: it must bring its own "
                "access_key_id and secret_access_key."
            )
        secret = settings.s3_secret_access_key
        return S3Target(
            override.bucket,
            prefix,
            settings.s3_endpoint_url,
            override.region or settings.s3_region,
            settings.s3_access_key_id,
            secret.get_secret_value() if secret else None,
        )
    endpoint_url = override.endpoint_url or settings.s3_endpoint_url
    if endpoint_url is not None and endpoint_url != settings.s3_endpoint_url:
        endpoint_url = _check_endpoint(endpoint_url, settings)
    return S3Target(
        override.bucket,
        prefix,
        endpoint_url,
        override.region or settings.s3_region,
        override.access_key_id,
        override.secret_access_key,
        pinned=endpoint_url != settings.s3_endpoint_url,
        allow_loopback=settings.allow_loopback_urls,
    )


def resolve_target(settings: WorkerSettings, override: S3Override | None) -> S3Target | None:
    """Where outputs go; JobError(INVALID_INPUT) for a request the worker's credentials must not serve."""
    if override is not None:
        return _override_target(settings, override)
    if not settings.s3_bucket:
        return None
    secret = settings.s3_secret_access_key
    return S3Target(
        settings.s3_bucket,
        settings.s3_prefix.strip("/"),
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        secret.get_secret_value() if secret else None,
    )


def upload(files: list[ProducedFile], target: S3Target, job_id: str, ttl_s: int) -> list[OutputItem]:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    items = []
    for produced in files:
        key = "/".join(part for part in (target.prefix, job_id, produced.filename) if part)
        try:
            client = target.client()
            _put(client, produced, target.bucket, key)
            url = client.generate_presigned_url(
                "get_object", Params={"Bucket": target.bucket, "Key": key}, ExpiresIn=ttl_s
            )
        except address_policy.AddressRefused as exc:
            raise _invalid_s3(f"{exc}.") from None
        except (Boto3Error, BotoCoreError, ClientError, OSError) as exc:
            log.warning("upload failed", extra={"fields": {"bucket": target.bucket, "key": key, "error": str(exc)}})
            raise JobError(ErrorCode.STORAGE_FAILED, bucket=target.bucket, key=key, reason=type(exc).__name__) from exc
        items.append(produced.item(url=url, key=key))
    return items


def _put(client: Any, produced: ProducedFile, bucket: str, key: str) -> None:
    if produced.size <= SINGLE_PUT_MAX_BYTES:
        with produced.path.open("rb") as body:
            client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=produced.content_type)
    else:
        client.upload_file(str(produced.path), bucket, key, ExtraArgs={"ContentType": produced.content_type})


def inline(files: list[ProducedFile], max_bytes: int) -> list[OutputItem]:
    total = sum(produced.size for produced in files)
    if total > max_bytes:
        raise JobError(
            ErrorCode.INVALID_INPUT,
            f"Outputs total {total / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB that fit in a RunPod response; "
            "configure an S3 bucket (S3_BUCKET or input.s3) to receive them.",
            total_bytes=total,
            limit_bytes=max_bytes,
        )
    return [p.item(data=base64.b64encode(p.path.read_bytes()).decode("ascii")) for p in files]


def deliver(
    files: list[ProducedFile], settings: WorkerSettings, override: S3Override | None, delivery: Delivery, job_id: str
) -> list[OutputItem]:
    target = resolve_target(settings, override)
    if delivery is Delivery.S3 and target is None:
        raise JobError(
            ErrorCode.INVALID_INPUT, "delivery 's3' needs a bucket (S3_BUCKET or input.s3).", field="delivery"
        )
    if target is not None and delivery is not Delivery.BASE64:
        return upload(files, target, job_id, settings.s3_presign_ttl_s)
    return inline(files, settings.max_base64_bytes)
