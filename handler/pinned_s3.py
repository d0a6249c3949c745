"""S3 requests to a store a job named, sent over connections the address policy pinned.

botocore's own connection pool resolves the host again for every connection, so between the policy's check and
the connect a rebinding DNS server could answer with a private address. :class:`PinnedSender`, registered on
botocore's ``before-send`` event, sends the already signed request itself through
:class:`handler.address_policy.PinnedBackend` (resolve once, check every answer, connect to a checked one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpcore

from handler import address_policy


class _Body:
    """A response body as botocore's AWSResponse reads it."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


class PinnedSender:
    """Sends botocore's signed requests itself (its ``before-send`` hook) over connections that the address policy
    pinned: botocore's own pool would resolve the host again, and a rebinding DNS could answer differently."""

    def __init__(self, allow_loopback: bool) -> None:
        self._pool = httpcore.ConnectionPool(
            network_backend=address_policy.PinnedBackend(allow_loopback=allow_loopback), retries=0
        )

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse, HTTPHeaders
        from botocore.exceptions import EndpointConnectionError

        # httpcore does not wait for "100 Continue"; without the header the store simply reads the body.
        headers = [(k, v) for k, v in request.headers.items() if k.lower() != "expect"]
        body = request.body
        content = _chunks(body) if hasattr(body, "read") else (body or b"")
        timeouts = {"connect": 30.0, "read": 60.0, "write": 60.0, "pool": 30.0}
        try:
            response = self._pool.request(
                request.method, request.url, headers=headers, content=content, extensions={"timeout": timeouts}
            )
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            # As botocore's own sender reports it: retried by its retry policy, then STORAGE_FAILED.
            raise EndpointConnectionError(endpoint_url=request.url, error=exc) from exc
        headers_out = HTTPHeaders()
        for key, value in response.headers:
            headers_out[key.decode("latin-1")] = value.decode("latin-1")
        return AWSResponse(request.url, response.status, headers_out, _Body(response.content))


def _chunks(body: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    while chunk := body.read(size):
        yield chunk.encode() if isinstance(chunk, str) else chunk
