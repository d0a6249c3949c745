"""Download a user-supplied URL without letting it reach this machine's or its network's private services.

Hand-written because no maintained library does SSRF-safe fetching for httpx/httpcore: a network backend that
resolves the host, refuses any private, loopback, link-local, multicast or reserved address, and connects to the
address it checked (so DNS rebinding between check and connect cannot slip through). TLS still verifies the
original host name. Redirects are followed by hand, each hop checked again.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore

from handler.errors import ErrorCode, JobError

MAX_REDIRECTS = 3


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_public(host: str, port: int) -> str:
    """First address of ``host`` if every address it resolves to is public; JobError otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise JobError(ErrorCode.INVALID_INPUT, f"Image URL host {host!r} does not resolve.", field="images") from exc
    addresses = [str(info[4][0]) for info in infos]
    blocked = [address for address in addresses if not _is_public(address)]
    if blocked or not addresses:
        raise JobError(
            ErrorCode.INVALID_INPUT,
            f"Image URL host {host!r} points to a private or local address; only public addresses are fetched.",
            field="images",
        )
    return addresses[0]


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = host if self._allow_private else resolve_public(host, port)
        return self._inner.connect_tcp(
            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise JobError(ErrorCode.INVALID_INPUT, "Unix sockets are not fetched.", field="images")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _check_url(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    allowed = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in allowed or not parts.hostname:
        raise JobError(ErrorCode.INVALID_INPUT, "Image URLs must be https:// URLs.", field="images")


def fetch(
    url: str, *, max_bytes: int, timeout_s: float, allow_private: bool = False, deadline: float | None = None
) -> bytes:
    """GET ``url`` (https only) with a size cap and a timeout; JobError(INVALID_INPUT) on every refusal.

    ``deadline`` (time.monotonic()) bounds the whole download, however slowly the server trickles bytes.
    """
    if deadline is not None:
        timeout_s = max(0.001, min(timeout_s, deadline - time.monotonic()))
    timeouts = {"connect": timeout_s, "read": timeout_s, "write": timeout_s, "pool": timeout_s}
    with httpcore.ConnectionPool(network_backend=_GuardedBackend(allow_private), retries=0) as pool:
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(url, allow_private)
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
            except httpcore.TimeoutException as exc:
                raise JobError(ErrorCode.INVALID_INPUT, "Image URL timed out.", field="images") from exc
            except httpcore.NetworkError as exc:
                raise JobError(
                    ErrorCode.INVALID_INPUT, f"Image URL could not be fetched: {exc}.", field="images"
                ) from exc
            except httpcore.UnsupportedProtocol as exc:
                raise JobError(ErrorCode.INVALID_INPUT, "Image URLs must be https:// URLs.", field="images") from exc
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
