"""Input images are decoded and checked before ComfyUI sees them; hostile ones get INVALID_INPUT."""

from __future__ import annotations

import base64
import http.server
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from handler.errors import JobError
from handler.images import load_image
from handler.settings import WorkerSettings
from tests.handler import graphs
from tests.handler.helpers import b64_image, failed, ok, png, run_job

RED = Image.new("RGB", (40, 20), (200, 10, 10))


async def _refused(worker: Any, image: str, name: str = "photo.png") -> str:
    error = failed(
        await run_job(worker, {"workflow": graphs.load_image(name), "images": [{"name": name, "image": image}]})
    )
    assert error.code == "INVALID_INPUT"
    assert error.details["field"] == "images"
    return error.message


async def test_image_is_staged_for_load_image(worker: Any) -> None:
    out = ok(
        await run_job(
            worker,
            {"workflow": graphs.load_image("photo.png"), "images": [{"name": "photo.png", "image": b64_image(RED)}]},
        )
    )
    result = png(out.outputs[0].data or "")
    assert result.size == (40, 20)
    assert result.convert("RGB").getpixel((5, 5)) == (200, 10, 10)


async def test_data_url_prefix_is_accepted(worker: Any) -> None:
    data_url = "data:image/jpeg;base64," + b64_image(RED, "JPEG", quality=95)
    out = ok(
        await run_job(
            worker, {"workflow": graphs.load_image("p.jpg"), "images": [{"name": "p.jpg", "image": data_url}]}
        )
    )
    assert png(out.outputs[0].data or "").size == (40, 20)


async def test_exif_orientation_is_applied(worker: Any) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held sideways: display rotated 90 degrees
    tagged = b64_image(RED, "JPEG", exif=exif.tobytes())
    out = ok(
        await run_job(worker, {"workflow": graphs.load_image("p.jpg"), "images": [{"name": "p.jpg", "image": tagged}]})
    )
    assert png(out.outputs[0].data or "").size == (20, 40)


async def test_traversal_names_stay_inside_the_job_folder(worker: Any) -> None:
    name = "../../../etc/evil.png"
    work: Path = worker.settings.work_dir
    out = ok(
        await run_job(
            worker, {"workflow": graphs.load_image(name), "images": [{"name": name, "image": b64_image(RED)}]}
        )
    )
    assert png(out.outputs[0].data or "").size == (40, 20)
    await worker.cleaned()
    assert not list(work.parent.rglob("evil.png")), "nothing written outside (and inputs cleaned up afterwards)"


async def test_inputs_are_removed_after_the_job(worker: Any) -> None:
    ok(
        await run_job(
            worker,
            {"workflow": graphs.load_image("x.png"), "images": [{"name": "x.png", "image": b64_image(RED)}]},
            job_id="cleanup-1",
        )
    )
    await worker.cleaned()
    assert not list((worker.settings.work_dir / "jobs").iterdir())


async def test_malformed_base64(worker: Any) -> None:
    assert "base64" in await _refused(worker, "not*base64*at*all!")


async def test_non_image_bytes(worker: Any) -> None:
    assert "not an image" in await _refused(worker, base64.b64encode(b"%PDF-1.7 hello").decode())


async def test_truncated_image(worker: Any) -> None:
    data = base64.b64decode(b64_image(Image.new("RGB", (300, 300), (1, 2, 3)), "JPEG"))
    assert "corrupt" in await _refused(worker, base64.b64encode(data[: len(data) // 3]).decode())


async def test_decompression_bomb(worker: Any) -> None:
    bomb = b64_image(Image.new("1", (8000, 6000)))  # 48 MP in a few KB
    assert len(bomb) < 100_000
    assert "megapixels" in await _refused(worker, bomb)


async def test_oversized_payload(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.settings, "image_max_bytes", 1000)
    noisy = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))  # noise does not compress
    assert "larger than" in await _refused(worker, b64_image(noisy))


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/a.png",
        "https://10.1.2.3/a.png",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/a.png",
        "https://192.168.0.10/a.png",
        "https://localhost/a.png",
        "http://example.com/a.png",
        "https://0.0.0.0/a.png",
    ],
)
async def test_private_and_plain_http_urls_are_refused(worker: Any, url: str) -> None:
    message = await _refused(worker, url)
    assert "private" in message or "https" in message


# ---- fetching from a (local) server: the guard lifted explicitly, as only tests may ----


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/photo.png")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def image_server() -> Iterator[str]:
    buffer = io.BytesIO()
    RED.save(buffer, format="PNG")
    _Handler.body = buffer.getvalue()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_is_fetched_and_redirects_followed(image_server: str) -> None:
    settings = WorkerSettings(allow_loopback_urls=True)
    assert load_image(f"{image_server}/photo.png", settings).size == (40, 20)
    assert load_image(f"{image_server}/redirect", settings).size == (40, 20)


def test_oversize_download_is_refused(image_server: str) -> None:
    settings = WorkerSettings(allow_loopback_urls=True, image_max_bytes=50)
    with pytest.raises(JobError, match="larger than"):
        load_image(f"{image_server}/photo.png", settings)


def test_loopback_server_refused_without_the_test_switch(image_server: str) -> None:
    with pytest.raises(JobError, match="https"):
        load_image(f"{image_server}/photo.png", WorkerSettings())
    with pytest.raises(JobError, match="private"):
        load_image(image_server.replace("http://", "https://") + "/photo.png", WorkerSettings())
