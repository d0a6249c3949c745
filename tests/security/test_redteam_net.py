"""Red-team corpus for the network half of issue 10: members of each attack class that slipped past the first fixes.

Each case here got through before its fix (a refused address spelled another way, unicode that made an HTTP client
raise and the job end INTERNAL, a coerced policy or ledger value, a spoofed caller address, non-standard JSON) and
is now a specific refusal; the next job still succeeds and nothing connects outside loopback.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore
import httpx
import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from bot.app import WEBHOOK
from bot.runpod_client import RunPodSettings
from bot.runpod_webhook import RunPodWebhookServer
from bot.settings import BotSettings
from handler.address_policy import AddressRefused, ascii_url, check_url, ip_literal, request_url, resolve
from handler.errors import JobError
from handler.local_endpoint import EndpointServer
from handler.local_endpoint.ratelimit import caller_key
from handler.local_endpoint.webhooks import deliver, webhook_pool
from handler.settings import WorkerSettings
from handler.url_fetch import fetch
from tests.bot.conftest import fake_runpod, redis, redis_url, runpod_settings  # noqa: F401 (fixtures)
from tests.bot.harness import Bot, running_bot
from tests.endpoint.conftest import endpoint_worker_settings, fast_endpoint_settings
from tests.endpoint.support import WebhookReceiver, blank_job
from tests.handler import graphs
from tests.handler.helpers import failed, ok, run_job
from tests.security.test_address_policy import connections, fake_dns, png_server  # noqa: F401 (fixtures)
from tests.security.test_endpoint_limits import _raw_post
from tests.security.test_storage_creds import store_worker  # noqa: F401 (fixture)
from workflows.contract import ErrorCode

# ----- the address policy: every spelling of a refused address is refused before any lookup

REFUSED_SPELLINGS = [
    # inet_aton's IPv4 forms: getaddrinfo reads them as literals, so they are literals to the policy too
    "https://127.1/x",
    "https://0x7f.1/x",
    "https://0x7F000001/x",
    "https://0177.0.0.1/x",
    "https://2130706433/x",
    "https://017700000001/x",
    "https://0/x",
    "https://169.254.43518/x",  # 169.254.169.254 with a 16-bit last part
    "https://10.1/x",
    "https://127.0.0.1./x",  # trailing dot
    # unicode that IDNA maps onto an IPv4 literal (full-width digits, ideographic full stops)
    "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/x",
    "https://127\u30020\u30020\u30021/x",
    "https://169\uff0e254\uff0e169\uff0e254/x",
    # IPv6 spellings
    "https://[0:0:0:0:0:FFFF:7F00:1]/x",
    "https://[0000:0000:0000:0000:0000:0000:0000:0001]/x",
    "https://[::FFFF:169.254.169.254]/x",
    "https://[fe80::1%25eth0]/x",
    "https://[FE80::1%eth0]/x",
    "https://[::ffff:0:7f00:1]/x",  # SIIT IPv4-translated
    # loopback names (RFC 6761), however spelled
    "https://localhost/x",
    "https://localhost./x",
    "https://LOCALHOST:8443/x",
    "https://api.localhost/x",
    "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/x",  # full-width
]


@pytest.fixture
def no_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    looked_up: list[str] = []

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        raise socket.gaierror("no lookups in this test")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


@pytest.mark.parametrize("url", REFUSED_SPELLINGS)
def test_every_spelling_of_a_refused_address_is_refused_before_any_lookup(url: str, no_lookups: list[str]) -> None:
    with pytest.raises(AddressRefused):
        check_url(url)
    assert no_lookups == []


@pytest.mark.parametrize(
    ("host", "address"),
    [("127.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("8.8.8.8.", "8.8.8.8")],
)
def test_inet_aton_forms_connect_to_the_address_they_were_checked_as(
    host: str, address: str, no_lookups: list[str]
) -> None:
    assert ip_literal(host) == address
    assert resolve(host, 443, allow_loopback=True) == [address]
    assert no_lookups == []


@pytest.mark.parametrize("name", ["cafe.de", "add.bad", "0xcafe.example", "deadbeef", "1.2.3.4.5"])
def test_hex_looking_names_stay_names(name: str) -> None:
    assert ip_literal(name) is None


def test_urls_are_sent_in_ascii() -> None:
    assert ascii_url("https://b\u00fccher.example/\u00fc b.png?q=\u00e9#frag") == (
        "https://xn--bcher-kva.example/%C3%BC%20b.png?q=%C3%A9"
    )
    assert request_url("HTTPS://[2606:4700:0000::1111]:8443/x") == "https://[2606:4700::1111]:8443/x"
    with pytest.raises(AddressRefused):
        ascii_url("https://example.com/\ud800")


# ----- image URLs through the real worker: unicode is INVALID_INPUT (an HTTP client's TypeError was INTERNAL)


@pytest.fixture
def refused_connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    attempts: list[tuple[str, int]] = []

    def refuse(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        attempts.append((host, port))
        raise httpcore.ConnectError("this test connects nowhere")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", refuse)
    return attempts


@pytest.mark.parametrize(
    "url",
    [
        "https://b\u00fccher.invalid/x.png",
        "https://example.invalid/\u00fc.png",
        "https://example.invalid/x.png?name=\u65e5\u672c",
        "https://example.invalid/\ud800.png",
        "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/x.png",
        "https://127\u30020\u30020\u30021/x.png",
        "https://0x7f.1/x.png",
        "https://2130706433/x.png",
        "https://localhost./x.png",
        "https://" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 52 + ".invalid/x.png",  # 252 characters
        "https://" + "a" * 63 + ".example.invalid/" + "p" * 100_000,
    ],
)
async def test_hostile_image_urls_are_invalid_input(
    worker: Any, refused_connections: list[tuple[str, int]], url: str
) -> None:
    job = {"workflow": graphs.load_image("in.png"), "images": [{"name": "in.png", "image": url}]}
    error = failed(await run_job(worker, job))
    assert error.code is ErrorCode.INVALID_INPUT and str(error.details.get("field")).startswith("images"), error
    assert refused_connections == []
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))


def test_a_unicode_image_url_is_fetched_in_ascii(png_server: int) -> None:  # noqa: F811
    """Development setting on: a full-width ``localhost`` with a unicode path reaches the loopback server."""
    host = "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54"
    data = fetch(f"http://{host}:{png_server}/\u00fc.png", max_bytes=10_000, timeout_s=5, allow_private=True)
    assert data.startswith(b"\x89PNG")


# ----- S3 endpoints: a host botocore refuses is INVALID_INPUT before the work (it was INTERNAL after it)


async def test_an_endpoint_botocore_refuses_is_invalid_input_before_running(
    store_worker: Any,  # noqa: F811
    fake_dns: dict[str, list[list[str]]],  # noqa: F811
) -> None:
    fake_dns["my_store.test"] = [["127.0.0.1"]] * 4
    s3 = {"bucket": "theirs", "endpoint_url": "http://my_store.test:9", "access_key_id": "k", "secret_access_key": "s"}
    error = failed(await run_job(store_worker, {"workflow": graphs.empty_image(), "s3": s3}))
    assert (error.code, error.details.get("field")) == (ErrorCode.INVALID_INPUT, "s3"), error
    ok(await run_job(store_worker, {"workflow": graphs.empty_image()}))


async def test_a_unicode_endpoint_is_used_in_ascii(store_worker: Any, s3_bucket: dict[str, str]) -> None:  # noqa: F811
    fullwidth = "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54"
    endpoint = s3_bucket["endpoint_url"].replace("127.0.0.1", fullwidth).replace("localhost", fullwidth)
    assert fullwidth in endpoint
    s3 = {
        "bucket": s3_bucket["bucket"],
        "endpoint_url": endpoint + "/#x",
        "access_key_id": "k",
        "secret_access_key": "s",
    }
    output = ok(await run_job(store_worker, {"workflow": graphs.empty_image(), "s3": s3}))
    assert output.outputs[0].url and output.outputs[0].url.startswith("http://localhost:")


@pytest.mark.parametrize("prefix", ["../other-bucket", "a/../../b", "./x", "x/.", "a\\..\\b"])
async def test_a_prefix_that_climbs_out_is_refused(
    store_worker: Any,  # noqa: F811
    s3_bucket: dict[str, str],
    prefix: str,
) -> None:
    """Only the prefix changes, so the worker's own keys sign: no segment a normalising store could resolve away."""
    job = {"workflow": graphs.empty_image(), "s3": {"bucket": s3_bucket["bucket"], "prefix": prefix}}
    error = failed(await run_job(store_worker, job))
    assert error.code is ErrorCode.INVALID_INPUT and str(error.details.get("field")).startswith("s3"), error
    ok(await run_job(store_worker, {"workflow": graphs.empty_image()}))


# ----- the local endpoint over real HTTP


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory, worker_settings: WorkerSettings) -> Iterator[EndpointServer]:
    settings = fast_endpoint_settings(
        rate_limits={"stream": 3, "run": 1000, "runsync": 1000, "status": 1000},
        max_execution_timeout_ms=3_600_000,
        allow_loopback_webhooks=False,
        keep_input_for_retry=False,
        body_timeout_s=2.0,
    )
    work = endpoint_worker_settings(worker_settings, tmp_path_factory.mktemp("redteam-endpoint"))
    server = EndpointServer(settings, work).start_in_thread()
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
async def http(endpoint: EndpointServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{endpoint.url}/local", timeout=60) as client:
        yield client


async def _completes(http: httpx.AsyncClient) -> None:
    answer = await http.post("/runsync", json={"input": blank_job()}, params={"wait": 60_000})
    assert answer.status_code == 200 and answer.json()["status"] == "COMPLETED", answer.text


async def test_a_spoofed_forwarded_for_does_not_make_a_new_caller(http: httpx.AsyncClient) -> None:
    """uvicorn trusted X-Forwarded-For from loopback: a caller naming a new address each time had a fresh window."""
    statuses = []
    for i in range(5):
        spoof = {"X-Forwarded-For": f"203.0.113.{i}", "Forwarded": f"for=198.51.100.{i}", "X-Real-IP": f"10.0.0.{i}"}
        statuses.append((await http.get("/stream/no-such-job", headers=spoof)).status_code)
    assert statuses == [404, 404, 404, 429, 429]
    await _completes(http)


def test_an_ipv6_caller_is_its_64() -> None:
    """One subscriber holds a /64: cycling through its addresses must not mint new callers."""
    same = {caller_key(f"2001:db8:1:2::{i:x}") for i in range(1, 50)} | {caller_key("2001:db8:1:2:ffff:1:2:3")}
    assert len(same) == 1
    assert caller_key("2001:db8:1:3::1") not in same
    assert caller_key("::ffff:203.0.113.7") == caller_key("203.0.113.7") == "203.0.113.7"


@pytest.mark.parametrize(
    "policy",
    [
        {"executionTimeout": "60000"},
        {"executionTimeout": 60000.0},
        {"executionTimeout": " 60000 "},
        {"executionTimeout": "6_0000"},
        {"executionTimeout": True},
        {"ttl": "20000"},
        {"ttl": 20000.0},
        {"lowPriority": "true"},
        {"lowPriority": 1},
        {"lowPriority": "yes"},
    ],
)
async def test_policy_values_of_the_wrong_type_are_400(http: httpx.AsyncClient, policy: dict[str, Any]) -> None:
    answer = await http.post("/run", json={"input": blank_job(), "policy": policy})
    assert answer.status_code == 400, (policy, answer.text)
    await _completes(http)


@pytest.mark.parametrize(
    "body",
    [
        b'{"input": {"a": NaN}}',
        b'{"input": {"a": Infinity}}',
        b'{"input": {"a": -Infinity}}',
        b'{"input": {"a": 1e999}}',
        b'{"input": {"a": -1e400}}',
        b'{"input": {"a": ' + b"9" * 5000 + b"}}",
        b'{"input": {}, "input": {"workflow": {}}}',
        b'{"input": {"a": 1, "a": 2}}',
        b'{"input": {"w": {"x": 1, "x": 1}}}',
        b'{"input": {}, "policy": {"ttl": 20000, "ttl": 0}}',
        b'{"input": ' + b'{"a": ' * 300 + b"1" + b"}" * 300 + b"}",
        b'{"input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'\xef\xbb\xbf{"input": {}}\xff',
    ],
)
async def test_non_standard_json_is_400(http: httpx.AsyncClient, body: bytes) -> None:
    answer = await http.post("/run", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, (body[:60], answer.status_code, answer.text[:200])
    await _completes(http)


@pytest.mark.parametrize("webhook", [url.replace("/x", "/hook") for url in REFUSED_SPELLINGS])
async def test_every_spelling_of_a_refused_webhook_is_400(http: httpx.AsyncClient, webhook: str) -> None:
    answer = await http.post("/run", json={"input": blank_job(), "webhook": webhook})
    assert answer.status_code == 400, (webhook, answer.text)
    await _completes(http)


async def test_a_body_shorter_than_its_content_length_is_408(endpoint: EndpointServer, http: httpx.AsyncClient) -> None:
    """A lying Content-Length (or a trickled body) no longer holds the request open: the whole body has a deadline."""

    def short_body() -> Iterator[bytes]:
        yield b'{"input": {'  # then nothing: the server waits for 1000 bytes that never come

    head = {"Content-Type": "application/json", "Content-Length": "1000"}
    answer, _ = await asyncio.to_thread(_raw_post, endpoint.port, "/v2/local/run", head, short_body())
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    await _completes(http)


@pytest.mark.parametrize(
    "opening",
    [
        b"POST /v2/local/run HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",  # headers that never end
        # a keep-alive connection: one whole request, then the next one's headers trickle
        b"GET /v2/local/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /v2/local/health HTTP/1.1\r\nX-Slow: ",
    ],
)
async def test_trickled_headers_are_dropped(endpoint: EndpointServer, http: httpx.AsyncClient, opening: bytes) -> None:
    """uvicorn has no header deadline and its keep-alive timer stops at the first byte (here 2 s is allowed)."""
    assert not await asyncio.to_thread(_held_open, endpoint.port, opening)
    await _completes(http)


async def test_a_unicode_webhook_is_delivered_in_ascii() -> None:
    """A webhook host or path with unicode made the HTTP client raise TypeError in the delivery task."""
    receiver = WebhookReceiver([200])
    pool = webhook_pool(allow_loopback=True)
    try:
        url = receiver.url.replace("127.0.0.1", "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54") + "/\u00fc"
        assert await deliver(pool, url, {"id": "j1"}, attempts=1, interval_s=0)
        assert receiver.bodies == [{"id": "j1"}]
        assert not await deliver(pool, receiver.url + "/\ud800", {"id": "j2"}, attempts=3, interval_s=0)
        assert receiver.bodies == [{"id": "j1"}]
    finally:
        await pool.aclose()
        receiver.close()


# ----- ledger amounts from settings: no coercion of bools, floats or float-like strings


@pytest.mark.parametrize(
    "env",
    [
        {"IMAGE_COST": "1.0"},
        {"IMAGE_COST": "1e3"},
        {"IMAGE_COST": "1_000"},
        {"IMAGE_COST": "true"},
        {"IMAGE_COST": "\u0663"},  # Arabic-Indic three
        {"FREE_CREDITS": "3.0"},
        {"REFERRAL_BONUS": "0x10"},
        {"VIDEO_COSTS": '{"10": 4, "15": 6, "20": true}'},
        {"VIDEO_COSTS": '{"10": 4.0, "15": 6, "20": 8}'},
        {"VIDEO_COSTS": '{"10": 4, "15": 6, "20": 1e3}'},
        {"VIDEO_COSTS": '{"10": "4.0", "15": 6, "20": 8}'},
        {"PACKS": '[{"id": "s", "credits": 10, "stars": true}]'},
        {"PACKS": '[{"id": "s", "credits": 10.0, "stars": 50}]'},
        {"PACKS": '[{"id": "s", "credits": "1e1", "stars": 50}]'},
    ],
)
def test_settings_refuse_amounts_that_are_not_whole_numbers(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        BotSettings(telegram_bot_token="1:x")


def test_settings_still_take_plain_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE_COST", " 2 ")
    monkeypatch.setenv("VIDEO_COSTS", '{"10": "4", "15": 6, "20": 8}')
    monkeypatch.setenv("PACKS", '[{"id": "s", "credits": "10", "stars": 50}]')
    settings = BotSettings(telegram_bot_token="1:x")
    assert (settings.image_cost, settings.video_costs[10], settings.packs[0].credits) == (2, 4, 10)


# ----- the bot's RunPod webhook receiver: a trickling client does not hold a connection


@pytest.fixture
async def quick_bot(
    redis: Redis,  # noqa: F811
    runpod_settings: RunPodSettings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Bot]:
    """The real bot with its webhook receiver; the receiver's timeout (a constructor default) lowered to 1 s."""
    defaults = {**(RunPodWebhookServer.__init__.__kwdefaults__ or {}), "timeout_s": 1.0}
    monkeypatch.setattr(RunPodWebhookServer.__init__, "__kwdefaults__", defaults)
    async with running_bot(
        redis,
        runpod_settings,
        public_url="https://bot.example.org",
        runpod_webhook_secret="secret-1",
        runpod_webhook_port=0,
    ) as bot:
        yield bot


def _held_open(port: int, opening: bytes, for_s: float = 12.0) -> bool:
    """Send ``opening``, then one more byte every half second: whether the server still holds the connection after
    ``for_s`` (a trickle resets an idle timer; only a deadline ends it). Answers along the way are read and ignored."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(0.5)
    try:
        sock.sendall(opening)
        deadline = time.monotonic() + for_s
        while time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    return False
                continue
            except TimeoutError:
                pass
            except ConnectionResetError:
                return False
            try:
                sock.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                return False
        return True
    finally:
        sock.close()


@pytest.mark.parametrize(
    "opening",
    [
        b"POST /runpod/secret-1/job-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",  # headers never end
        b"POST /runpod/secret-1/job-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{",  # body never ends
        b"POST /runpod/secret-1/job-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
    ],
)
async def test_a_trickling_webhook_call_is_dropped(quick_bot: Bot, opening: bytes) -> None:
    """Tornado waited an hour for headers and forever for a body (here the receiver's timeout is 1 s)."""
    port = int(quick_bot.app.bot_data[WEBHOOK].port)
    assert not await asyncio.to_thread(_held_open, port, opening)


# ----- every preset's every parameter (the fuzz corpus names sdxl and liveportrait; presets were added since)


async def test_every_presets_every_param_gets_a_specific_error(
    worker: Any, refused_connections: list[tuple[str, int]]
) -> None:
    """Each value a params validator refuses, and every string as a preset's image: a specific error, never
    INTERNAL (values a validator takes would run a whole preset on the CPU; the shared fuzz corpus covers those)."""
    from tests.security.test_input_fuzz import HOSTILE_VALUES
    from workflows.presets import PRESETS

    tiny = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
    hostile = [*HOSTILE_VALUES, "https://b\u00fccher.invalid/x.png", "https://0x7f.1/x.png", 2**64, -(2**64)]
    internal: list[tuple[str, str, str]] = []
    count = 0
    for name, preset in PRESETS.items():
        fields = preset.params_model.model_fields
        base = {key: value for key, value in {"prompt": "a fox", "image": tiny, "photo": tiny}.items() if key in fields}
        for field in fields:
            for value in hostile:
                params = {**base, field: value}
                is_image = field in ("image", "photo") and isinstance(value, str)
                if not is_image:
                    try:
                        preset.params_model.model_validate(params)
                        continue
                    except ValueError:  # pydantic's ValidationError too
                        pass
                count += 1
                error = failed(await run_job(worker, {"preset": name, "params": params, "delivery": "base64"}))
                if error.code is ErrorCode.INTERNAL or not error.message:
                    internal.append((name, field, repr(value)[:60]))
    assert count > 400
    assert not internal, internal[:20]
    assert refused_connections == []
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))


# ----- redirects: every hop passes the policy again, in every spelling


class _Redirector(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        if self.path.startswith("/png"):
            body = base64.b64decode(TINY_PNG)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(302)
        self.send_header("Location", self.target.encode().decode("latin-1"))  # raw UTF-8 bytes
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


TINY_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"


@pytest.fixture
def redirector() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.1/x.png",
        "http://0x0a.1/x.png",
        "http://167772161/x.png",  # 10.0.0.1
        "http://[::ffff:10.0.0.1]/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "//169.254.169.254/latest/meta-data/",  # scheme-relative
        "http://169\uff0e254\uff0e169\uff0e254/",
        "http://[fe80::1%25lo]/x.png",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "http://user:pw@127.0.0.1/x.png",
    ],
)
def test_a_redirect_to_a_refused_address_is_refused(
    redirector: int,
    location: str,
    connections: list[str],  # noqa: F811
) -> None:
    _Redirector.target = location
    with pytest.raises(JobError) as refused:
        fetch(f"http://127.0.0.1:{redirector}/start", max_bytes=10_000, timeout_s=5, allow_private=True)
    assert refused.value.code is ErrorCode.INVALID_INPUT
    assert connections == ["127.0.0.1"]  # the first hop only


def test_a_redirect_to_a_unicode_location_is_followed_in_ascii(redirector: int) -> None:
    _Redirector.target = "/png/\u00fc\u65e5.png"  # a server's raw UTF-8 Location, read as latin-1
    data = fetch(f"http://127.0.0.1:{redirector}/start", max_bytes=10_000, timeout_s=5, allow_private=True)
    assert data == base64.b64decode(TINY_PNG)


@pytest.mark.parametrize(
    "answers",
    [
        ["fd00::1"],  # AAAA-only, unique local
        ["2606:4700::1111", "::ffff:10.0.0.1"],  # a public AAAA beside a mapped private one
        ["1.1.1.1", "64:ff9b::a9fe:a9fe"],  # NAT64 of the metadata address
        ["8.8.8.8", "2002:c0a8:101::1"],  # 6to4 of 192.168.1.1
        ["fe80::1%eth0"],
        ["127.0.0.1", "8.8.8.8"],
        ["0.0.0.0"],
    ],
)
def test_any_refused_answer_refuses_the_name(
    fake_dns: dict[str, list[list[str]]],  # noqa: F811
    answers: list[str],
) -> None:
    fake_dns["mixed.test"] = [answers]
    with pytest.raises(AddressRefused):
        resolve("mixed.test", 443)
