"""The one address policy (handler/address_policy.py): its decisions, DNS answers pinned for the connection, and
image URLs through the real worker refused before any connection is attempted."""

from __future__ import annotations

import http.server
import io
import ipaddress
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest
from PIL import Image

from handler.address_policy import AddressRefused, check_address, check_url, refusal, resolve
from handler.url_fetch import fetch
from tests.handler import graphs
from tests.handler.helpers import failed, ok, run_job
from workflows.contract import ErrorCode

REFUSED = [
    # IPv4 special-purpose ranges
    "0.0.0.0",
    "10.1.2.3",
    "100.64.0.1",  # carrier-grade NAT
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",  # cloud metadata
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    # IPv6
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",  # site-local
    "ff02::1",
    "2001:db8::1",
    "100::1",
    "3fff::1",
    # IPv6 carrying a private IPv4 address
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "::169.254.169.254",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",  # local-use NAT64
    "64:ff9b:1::8.8.8.8",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001::1",  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo with a public server
]
ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize("address", REFUSED)
def test_private_local_and_reserved_addresses_are_refused(address: str) -> None:
    with pytest.raises(AddressRefused):
        check_address(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    check_address(address)


def test_loopback_only_with_the_development_setting() -> None:
    for address in ("127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"):
        with pytest.raises(AddressRefused):
            check_address(address)
        check_address(address, allow_loopback=True)
    # The development setting opens loopback only: private networks and metadata stay refused.
    for address in ("10.0.0.1", "169.254.169.254", "192.168.0.1", "fd00::1", "64:ff9b::a9fe:a9fe"):
        with pytest.raises(AddressRefused):
            check_address(address, allow_loopback=True)


def test_the_refusal_names_the_embedded_address() -> None:
    reason = refusal(ipaddress.ip_address("64:ff9b::a9fe:a9fe"))
    assert reason is not None and "169.254.169.254" in reason


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://example.com/x.png", "https"),
        ("ftp://example.com/x.png", "https"),
        ("https:///x.png", "https"),
        ("https://user:pw@example.com/x.png", "credentials"),
        ("https://" + "a" * 64 + ".example.com/x.png", "not a valid host name"),
        ("https://" + "a." * 130 + "com/x.png", "not a valid host name"),
        ("https://exa mple.com/x.png", "not a valid host name"),
        ("https://example.com:99999/x.png", "not a valid URL"),
        ("https://[::1/x.png", "not a valid URL"),
    ],
)
def test_malformed_urls_are_refused_before_resolution(url: str, fragment: str) -> None:
    with pytest.raises(AddressRefused, match=fragment):
        check_url(url)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """A stand-in for the system resolver: ``answers[host]`` is consumed one answer per lookup (a rebinding DNS
    answers differently each time)."""
    answers: dict[str, list[list[str]]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        addresses = answers[host].pop(0)
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, int(port or 0))) for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_a_name_with_any_private_answer_is_refused(fake_dns: dict[str, list[list[str]]]) -> None:
    fake_dns["mixed.test"] = [["8.8.8.8", "10.0.0.5"]]
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.5"):
        resolve("mixed.test", 443)
    fake_dns["nat64.test"] = [["64:ff9b::7f00:1"]]
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.1"):
        resolve("nat64.test", 443)


class _Png(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def png_server() -> Iterator[int]:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 4), (1, 2, 3)).save(buffer, format="PNG")
    _Png.body = buffer.getvalue()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Png)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address httpcore connects to (the real connection still happens)."""
    seen: list[str] = []
    real = httpcore.SyncBackend.connect_tcp

    def connect(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        seen.append(host)
        return real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect)
    return seen


def test_dns_answer_is_pinned_for_the_connection(
    fake_dns: dict[str, list[list[str]]], png_server: int, connections: list[str]
) -> None:
    """A rebinding DNS answers loopback (allowed here by the development setting) once and then a private address:
    the fetch resolves once and connects to exactly the address it checked."""
    fake_dns["rebind.test"] = [["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]]
    data = fetch(f"http://rebind.test:{png_server}/x.png", max_bytes=10_000, timeout_s=5, allow_private=True)
    assert Image.open(io.BytesIO(data)).size == (8, 4)
    assert connections == ["127.0.0.1"]
    assert fake_dns["rebind.test"] == [["10.0.0.1"], ["10.0.0.1"]]  # one lookup for one connection


def test_a_rebinding_name_is_refused_when_its_answer_turns_private(
    fake_dns: dict[str, list[list[str]]], connections: list[str]
) -> None:
    fake_dns["rebind.test"] = [["10.0.0.1"]]
    with pytest.raises(Exception, match="private"):
        fetch("https://rebind.test/x.png", max_bytes=10_000, timeout_s=5)
    assert connections == []


EMBEDDED_URLS = [
    "https://[64:ff9b::7f00:1]/a.png",
    "https://[64:ff9b::a9fe:a9fe]/a.png",
    "https://[64:ff9b:1::a00:1]/a.png",
    "https://[2002:7f00:1::1]/a.png",
    "https://[::127.0.0.1]/a.png",
    "https://[::ffff:169.254.169.254]/a.png",
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/a.png",
    "https://[fec0::1]/a.png",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/a.png",
    "https://" + "a" * 64 + ".example.com/a.png",
]


@pytest.mark.parametrize("url", EMBEDDED_URLS)
async def test_image_urls_through_the_worker_are_refused_without_a_connection(
    worker: Any, connections: list[str], url: str
) -> None:
    job = {"workflow": graphs.load_image("in.png"), "images": [{"name": "in.png", "image": url}]}
    error = failed(await run_job(worker, job))
    assert error.code is ErrorCode.INVALID_INPUT and error.details.get("field") == "images", error
    assert connections == []
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))


async def test_webhook_connections_are_pinned_too(fake_dns: dict[str, list[list[str]]]) -> None:
    from handler.local_endpoint.webhooks import deliver, webhook_pool
    from tests.endpoint.support import WebhookReceiver

    receiver = WebhookReceiver([200])
    port = receiver.url.split(":")[2].split("/")[0]
    pool = webhook_pool(allow_loopback=True)
    try:
        fake_dns["hook.test"] = [["127.0.0.1"], ["10.0.0.1"]]
        assert await deliver(pool, f"http://hook.test:{port}/h", {"id": "j1"}, attempts=1, interval_s=0)
        assert receiver.bodies == [{"id": "j1"}]
        assert fake_dns["hook.test"] == [["10.0.0.1"]]  # one lookup for one connection
        # The next connection's answer is private: refused, never connected, not retried.
        fresh = webhook_pool(allow_loopback=True)
        assert not await deliver(fresh, f"http://hook.test:{port}/h", {"id": "j2"}, attempts=3, interval_s=0)
        await fresh.aclose()
        assert receiver.bodies == [{"id": "j1"}]
    finally:
        await pool.aclose()
        receiver.close()


async def test_s3_connections_recheck_the_answer_they_connect_to(
    worker: Any, moto_endpoint: str, fake_dns: dict[str, list[list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's S3 endpoint passes the check before the job runs, then its name rebinds to a private address:
    the upload's own connection checks its answer and refuses it."""
    monkeypatch.setattr(worker.settings, "allow_loopback_urls", True)
    port = moto_endpoint.rsplit(":", 1)[1]
    fake_dns["store.test"] = [["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]]
    s3 = {"bucket": "b", "endpoint_url": f"http://store.test:{port}", "access_key_id": "k", "secret_access_key": "s"}
    error = failed(await run_job(worker, {"workflow": graphs.empty_image(), "s3": s3}))
    assert (error.code, error.details.get("field")) == (ErrorCode.INVALID_INPUT, "s3"), error
    assert "10.0.0.1" in error.message
