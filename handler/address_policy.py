"""The one address policy for every connection a job (or a caller of the local endpoint) can aim somewhere:
image URLs, S3 endpoints named by a request, and the local endpoint's webhooks.

A host is allowed only when every address it resolves to is a public unicast address. IPv6 forms that carry an
IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the IPv4
address inside; local-use NAT64 ``64:ff9b:1::/48`` and Teredo ``2001::/32`` are refused outright (what they reach
cannot be read off the address alone). Loopback is allowed only behind an explicit development setting.

The check and the connection use the same resolution: :class:`PinnedBackend` (sync) and
:class:`AsyncPinnedBackend` resolve once, check every answer, and connect to the checked address, so a rebinding
DNS server cannot swap the address between check and connect. TLS still verifies the original host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IANA's special-purpose registries (RFC 6890 and successors): nothing a job should reach.
_BLOCKED_V4 = [
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local (cloud metadata services live here)
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
    )
]
_BLOCKED_V6 = [
    ipaddress.IPv6Network(net)
    for net in (
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): translates to anything the operator chose
        "100::/64",  # discard-only
        "2001::/32",  # Teredo: the client address inside is obfuscated and relayed
        "2001::/23",  # IETF protocol assignments
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated, still routed inside some networks)
        "ff00::/8",  # multicast
    )
]
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class AddressRefused(ValueError):
    """A URL, host or address the policy does not allow; the message says which and why."""


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why ``ip`` may not be connected to, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return f"{ip} is a scoped (link-local) address"
    loopback = ip == _LOOPBACK_V6 if isinstance(ip, ipaddress.IPv6Address) else ip in _LOOPBACK_V4
    if allow_loopback and loopback:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            reason = refusal(inner, allow_loopback=allow_loopback)
            return f"{ip} carries {reason}" if reason else None
        blocked = any(ip in net for net in _BLOCKED_V6)
    else:
        blocked = any(ip in net for net in _BLOCKED_V4)
    if blocked or ip.is_multicast or ip.is_reserved or not ip.is_global:
        return f"{ip} is a private, local or reserved address"
    return None


def check_address(address: str, *, allow_loopback: bool = False) -> None:
    """AddressRefused unless ``address`` (an IP literal) is allowed."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise AddressRefused(f"{address!r} is not an IP address") from exc
    reason = refusal(ip, allow_loopback=allow_loopback)
    if reason:
        raise AddressRefused(reason)


def _idna(host: str) -> str:
    """The host as the resolver sees it; AddressRefused for names no resolver accepts (a label over 63
    characters, an empty label, control characters)."""
    if not host or len(host) > 253 or any(ord(ch) < 0x21 or ch in "/\\%" for ch in host):
        raise AddressRefused(f"{host[:80]!r} is not a valid host name")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise AddressRefused(f"{host[:80]!r} is not a valid host name ({exc})") from exc


def _checked(host: str, addresses: list[str], allow_loopback: bool) -> list[str]:
    if not addresses:
        raise AddressRefused(f"host {host!r} has no address")
    for address in addresses:
        reason = refusal(ipaddress.ip_address(address), allow_loopback=allow_loopback)
        if reason:
            raise AddressRefused(f"host {host!r} resolves to {reason}; only public addresses are allowed")
    return list(dict.fromkeys(addresses))


# inet_aton's forms (what getaddrinfo itself reads as an IPv4 literal): 127.1, 0x7f.1, 0177.0.0.1, 2130706433.
_INET_ATON_FORM = re.compile(r"[0-9a-fA-FxX.]+")


def ip_literal(host: str) -> str | None:
    """The address ``host`` is a literal for, in every form a resolver reads as one (bracketed or zoned IPv6,
    dotted IPv4 and inet_aton's short, octal, hex and decimal forms, a trailing dot), else None (a name)."""
    bare = host.strip("[]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    bare = bare.removesuffix(".")
    if _INET_ATON_FORM.fullmatch(bare) and not bare.startswith("."):
        try:
            return socket.inet_ntoa(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def resolve(host: str, port: int, *, allow_loopback: bool = False) -> list[str]:
    """The addresses to connect to for ``host``, in the resolver's order: every one of them must be allowed."""
    literal = ip_literal(host)
    if literal is not None:
        return _checked(host, [literal], allow_loopback)
    name = _idna(host)
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"host {host!r} does not resolve") from exc
    return _checked(host, [str(info[4][0]).split("%")[0] for info in infos], allow_loopback)


async def resolve_async(host: str, port: int, *, allow_loopback: bool = False) -> list[str]:
    literal = ip_literal(host)
    if literal is not None:
        return _checked(host, [literal], allow_loopback)
    name = _idna(host)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"host {host!r} does not resolve") from exc
    return _checked(host, [str(info[4][0]).split("%")[0] for info in infos], allow_loopback)


def check_url(url: str, *, allow_loopback: bool = False, what: str = "URL") -> tuple[str, int]:
    """Host and port of an ``https://`` URL (``http://`` too with ``allow_loopback``), before any resolution."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise AddressRefused(f"{what} is not a valid URL ({exc})") from exc
    schemes = {"https", "http"} if allow_loopback else {"https"}
    if parts.scheme.lower() not in schemes or not host:
        raise AddressRefused(f"{what} must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused(f"{what} must not carry credentials")
    literal = ip_literal(host)
    name = _idna(host) if literal is None else literal
    literal = literal or ip_literal(name)  # full-width digits and ideographic dots IDNA-map to an IPv4 literal
    if literal is not None:
        reason = refusal(ipaddress.ip_address(literal), allow_loopback=allow_loopback)
        if reason:
            raise AddressRefused(f"{what} host {reason}; only public addresses are allowed")
    elif not allow_loopback and _is_loopback_name(name):
        raise AddressRefused(f"{what} host {host[:80]!r} is a loopback name, private to this machine")
    return host, port or (443 if parts.scheme.lower() == "https" else 80)


def _is_loopback_name(name: str) -> bool:
    """``localhost`` and every name under it (RFC 6761), with or without the trailing dot."""
    name = name.removesuffix(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def _escape(text: str) -> str:
    """Non-ASCII, spaces and control characters percent-encoded as UTF-8 (what a browser sends)."""
    return re.sub(r"[^\x21-\x7e]", lambda m: quote(m.group(), safe=""), text)


def request_url(url: str, *, allow_loopback: bool = False, what: str = "URL") -> str:
    """``url`` checked by :func:`check_url`, spelled as :func:`ascii_url` sends it."""
    check_url(url, allow_loopback=allow_loopback, what=what)
    return ascii_url(url, what=what)


def ascii_url(url: str, *, what: str = "URL") -> str:
    """``url`` spelled as an HTTP client sends it: the host IDNA-encoded (or the canonical IP literal), path and
    query percent-encoded where they are not ASCII, no fragment. HTTP clients refuse unicode in a URL with errors
    of their own; this makes every such URL either sendable or an AddressRefused."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError as exc:
        raise AddressRefused(f"{what} is not a valid URL ({exc})") from exc
    literal = ip_literal(host)
    netloc = _idna(host) if literal is None else f"[{literal}]" if ":" in literal else literal
    if port is not None:
        netloc += f":{port}"
    try:
        return urlunsplit((parts.scheme.lower(), netloc, _escape(parts.path), _escape(parts.query), ""))
    except UnicodeError as exc:  # a lone surrogate
        raise AddressRefused(f"{what} is not a valid URL ({exc})") from exc


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend connecting only to addresses the policy allows, resolved once per connection."""

    def __init__(self, *, allow_loopback: bool = False) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_loopback = allow_loopback

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        # Each checked address in turn (a name may list ::1 before 127.0.0.1); none is looked up again.
        addresses = resolve(host, port, allow_loopback=self._allow_loopback)
        for address in addresses[:-1]:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError:
                continue
        return self._inner.connect_tcp(
            addresses[-1], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise AddressRefused("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class AsyncPinnedBackend(httpcore.AsyncNetworkBackend):
    """The asyncio counterpart of :class:`PinnedBackend`."""

    def __init__(self, *, allow_loopback: bool = False) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_loopback = allow_loopback

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_async(host, port, allow_loopback=self._allow_loopback)
        for address in addresses[:-1]:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError:
                continue
        return await self._inner.connect_tcp(
            addresses[-1], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
