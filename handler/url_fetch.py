"""Download a user-supplied URL without letting it reach this machine's or its network's private services.

Every connection goes through :mod:`handler.address_policy` (the one policy shared with S3 endpoints and the
local endpoint's webhooks): the host is resolved once, every answer checked, and the checked address is the one
connected to. Redirects are followed by hand, each hop checked again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from urllib.parse import urljoin

import httpcore

from handler.address_policy import AddressRefused, PinnedBackend, request_url
from handler.errors import ErrorCode, JobError

MAX_REDIRECTS = 3


def _refused(exc: AddressRefused) -> JobError:
    return JobError(ErrorCode.INVALID_INPUT, f"{exc}.", field="images")


def _check_url(url: str, allow_private: bool) -> str:
    """The URL as it is sent (IDNA host, non-ASCII percent-encoded), once the address policy passed it."""
    try:
        return request_url(url, allow_loopback=allow_private, what="Image URL")
    except AddressRefused as exc:
        raise _refused(exc) from None


def fetch(
    url: str, *, max_bytes: int, timeout_s: float, allow_private: bool = False, deadline: float | None = None
) -> bytes:
    """GET ``url`` (https only) with a size cap and a timeout; JobError(INVALID_INPUT) on every refusal.

    ``deadline`` (time.monotonic()) bounds the whole download, however slowly the server trickles bytes.
    """
    if deadline is not None:
        timeout_s = max(0.001, min(timeout_s, deadline - time.monotonic()))
    timeouts = {"connect": timeout_s, "read": timeout_s, "write": timeout_s, "pool": timeout_s}
    backend = PinnedBackend(allow_loopback=allow_private)
    with httpcore.ConnectionPool(network_backend=backend, retries=0) as pool:
        for _ in range(MAX_REDIRECTS + 1):
            url = _check_url(url, allow_private)
            try:
                with pool.stream(
                    "GET", url, headers={"User-Agent": "comfy-worker/1"}, extensions={"timeout": timeouts}
                ) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = dict((k.lower(), v) for k, v in response.headers).get(b"location")
                        if not location:
                            break
                        url = urljoin(url, location.decode("latin-1"))
                        continue
                    if response.status != 200:
                        raise JobError(
                            ErrorCode.INVALID_INPUT, f"Image URL answered HTTP {response.status}.", field="images"
                        )
                    return _read_capped(response.iter_stream(), max_bytes, deadline)
            except AddressRefused as exc:
                raise _refused(exc) from None
            except httpcore.TimeoutException as exc:
                raise JobError(ErrorCode.INVALID_INPUT, "Image URL timed out.", field="images") from exc
            except httpcore.NetworkError as exc:
                raise JobError(
                    ErrorCode.INVALID_INPUT, f"Image URL could not be fetched: {exc}.", field="images"
                ) from exc
            except httpcore.UnsupportedProtocol as exc:
                raise JobError(ErrorCode.INVALID_INPUT, "Image URLs must be https:// URLs.", field="images") from exc
            except (httpcore.LocalProtocolError, httpcore.RemoteProtocolError) as exc:
                raise JobError(
                    ErrorCode.INVALID_INPUT, f"Image URL could not be fetched: {exc}.", field="images"
                ) from exc
    raise JobError(ErrorCode.INVALID_INPUT, "Image URL redirects too often.", field="images")


def _read_capped(chunks: Iterable[bytes], max_bytes: int, deadline: float | None = None) -> bytes:
    body = bytearray()
    for chunk in chunks:
        if deadline is not None and time.monotonic() > deadline:
            raise JobError(ErrorCode.INVALID_INPUT, "Image URL download did not finish in time.", field="images")
        body += chunk
        if len(body) > max_bytes:
            raise JobError(
                ErrorCode.INVALID_INPUT, f"Image at URL is larger than {max_bytes // (1024 * 1024)} MB.", field="images"
            )
    return bytes(body)
