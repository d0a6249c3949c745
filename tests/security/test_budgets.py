"""Every budget refuses before anything is allocated, names its setting, and the next job runs.

"Before any allocation": the refused graphs would need gigabytes to terabytes if they ran; the refusal comes back
with the process's resident memory all but unchanged and well inside a few seconds, with no progress reported.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import psutil
import pytest
from PIL import Image

from handler.budgets import check_budgets
from handler.presets import prepare_preset
from handler.settings import WorkerSettings
from tests.handler import graphs
from tests.handler.helpers import b64_image, failed, ok, run_job

MB = 1024 * 1024
BIG = 16384  # ComfyUI's MAX_RESOLUTION


def _latent(class_type: str, **inputs: Any) -> dict[str, Any]:
    return {
        "1": {"class_type": class_type, "inputs": inputs},
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
    }


def _scaled(factor: float, times: int) -> dict[str, Any]:
    graph = graphs.empty_image(1024, 1024)
    source = "1"
    for i in range(times):
        node = str(10 + i)
        graph[node] = {
            "class_type": "ImageScaleBy",
            "inputs": {"image": [source, 0], "upscale_method": "nearest-exact", "scale_by": factor},
        }
        source = node
    graph["2"]["inputs"]["images"] = [source, 0]
    return graph


def _linked_width() -> dict[str, Any]:
    graph = graphs.empty_image(64, 4096)  # the width is computed when the graph runs: taken at its maximum
    graph["9"] = {"class_type": "PrimitiveInt", "inputs": {"value": BIG}}
    graph["1"]["inputs"]["width"] = ["9", 0]
    return graph


def _repeated() -> dict[str, Any]:
    graph = graphs.empty_image(512, 512)
    graph["3"] = {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": 4096}}
    graph["2"]["inputs"]["images"] = ["3", 0]
    return graph


def _many_saves(count: int) -> dict[str, Any]:
    graph = graphs.empty_image(8, 8)
    for i in range(count):
        graph[f"s{i}"] = {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": f"n{i}"}}
    return graph


GRAPH_BUDGETS = {
    "empty image canvas": (graphs.empty_image(BIG, BIG, batch=4096), "MAX_JOB_PIXELS"),
    "empty latent": (_latent("EmptyLatentImage", width=BIG, height=BIG, batch_size=64), "MAX_JOB_PIXELS"),
    "sd3 latent": (_latent("EmptySD3LatentImage", width=BIG, height=BIG, batch_size=1), "MAX_JOB_PIXELS"),
    "upscale to a size": (
        {
            **graphs.empty_image(64, 64),
            "3": {
                "class_type": "ImageScale",
                "inputs": {
                    "image": ["1", 0],
                    "upscale_method": "nearest-exact",
                    "width": BIG,
                    "height": BIG,
                    "crop": "disabled",
                },
            },
            "2": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}},
        },
        "MAX_JOB_PIXELS",
    ),
    "chained scale-by": (_scaled(8.0, 3), "MAX_JOB_PIXELS"),
    "size from a link": (_linked_width(), "MAX_JOB_PIXELS"),
    "repeated batch": (_repeated(), "MAX_JOB_PIXELS"),
    "video length": (
        _latent("EmptyHunyuanLatentVideo", width=848, height=480, length=4097, batch_size=1),
        "MAX_JOB_PIXELS",
    ),
    "many frames": (graphs.empty_image(8, 8, batch=1000), "MAX_JOB_FRAMES"),
    "many output nodes": (_many_saves(40), "MAX_JOB_OUTPUTS"),
    "one save of a big batch": (graphs.empty_image(8, 8, batch=64), "MAX_JOB_OUTPUTS"),
}


@pytest.mark.parametrize("case", list(GRAPH_BUDGETS))
async def test_graph_budgets_refuse_before_anything_is_allocated(worker: Any, progress_sink: Any, case: str) -> None:
    graph, setting = GRAPH_BUDGETS[case]
    process = psutil.Process()
    rss_before, started = process.memory_info().rss, time.monotonic()
    error = failed(await run_job(worker, {"workflow": graph}, job_id=f"budget-{case}"))
    elapsed, grown = time.monotonic() - started, process.memory_info().rss - rss_before
    assert error.code == "INVALID_INPUT", error
    assert error.details["budget"] == setting and setting in error.message
    assert grown < 64 * MB and elapsed < 5.0, (grown, elapsed)
    assert not progress_sink.for_job(f"budget-{case}"), "nothing ran"
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))


async def test_the_presets_fit_the_default_budgets(worker: Any, tmp_path: Any) -> None:
    from handler.files import JobFiles

    classes = worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS
    defaults = WorkerSettings()
    files = JobFiles("fit", tmp_path)
    largest = prepare_preset("sdxl", {"prompt": "a fox", "aspect_ratio": "21:9", "batch_size": 4}, files, defaults)
    check_budgets(largest.prompt, classes, {}, defaults)
    square = prepare_preset("sdxl", {"prompt": "a fox", "batch_size": 4}, files, defaults)
    check_budgets(square.prompt, classes, {}, defaults)
    # The longest living photo: 20 s at 30 fps from a 1 MP photo (the graph as the preset renders it).
    from workflows.presets import PRESETS

    params = PRESETS["liveportrait"].validate({"photo": "unused", "duration": 20, "fps": 30})
    graph = PRESETS["liveportrait"].render(params)
    check_budgets(graph, classes, {"photo.png": (1000, 1000)}, defaults)


async def test_output_bytes_are_capped_for_base64(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.settings, "max_output_bytes", 100)
    error = failed(await run_job(worker, {"workflow": graphs.empty_image(64, 64), "delivery": "base64"}))
    assert (error.code, error.details["budget"]) == ("INVALID_INPUT", "MAX_OUTPUT_BYTES")
    monkeypatch.undo()
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))


async def test_output_bytes_are_capped_for_s3_and_nothing_is_uploaded(
    worker: Any, monkeypatch: pytest.MonkeyPatch, s3_bucket: dict[str, str]
) -> None:
    monkeypatch.setattr(worker.settings, "max_output_bytes", 100)
    monkeypatch.setattr(worker.settings, "allow_loopback_urls", True)  # moto's server listens on 127.0.0.1
    error = failed(await run_job(worker, {"workflow": graphs.empty_image(64, 64), "s3": s3_bucket}))
    assert (error.code, error.details["budget"]) == ("INVALID_INPUT", "MAX_OUTPUT_BYTES")
    client = boto3.client(
        "s3",
        endpoint_url=s3_bucket["endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    assert client.list_objects_v2(Bucket=s3_bucket["bucket"]).get("KeyCount") == 0


# ---- download deadlines ------------------------------------------------------------------------------------------


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Sends a PNG's header, then one byte every 50 ms: each read is quick, the whole download is not."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100000):
                self.wfile.write(b"\x89")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            return

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def trickle_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slow.png"
    server.shutdown()


@pytest.mark.parametrize(
    ("overrides", "code", "setting"),
    [
        ({"image_url_deadline_s": 0.5}, "INVALID_INPUT", "IMAGE_URL_DEADLINE_S"),
        ({"image_download_deadline_s": 0.5}, "INVALID_INPUT", "IMAGE_DOWNLOAD_DEADLINE_S"),
        ({"job_timeout_s": 0.5}, "TIMEOUT", "JOB_TIMEOUT_S"),
    ],
)
async def test_a_trickling_url_is_cut_off_at_its_deadline(
    worker: Any, monkeypatch: pytest.MonkeyPatch, trickle_url: str, overrides: dict[str, float], code: str, setting: str
) -> None:
    monkeypatch.setattr(worker.settings, "allow_loopback_urls", True)
    for name, value in overrides.items():
        monkeypatch.setattr(worker.settings, name, value)
    started = time.monotonic()
    error = failed(
        await run_job(
            worker, {"workflow": graphs.load_image("p.png"), "images": [{"name": "p.png", "image": trickle_url}]}
        )
    )
    assert (error.code, error.details.get("budget")) == (code, setting), error
    assert time.monotonic() - started < 5.0, "per-read timeouts alone would wait for the whole trickle"
    monkeypatch.undo()
    image = b64_image(Image.new("RGB", (8, 8)))
    ok(await run_job(worker, {"workflow": graphs.load_image("p.png"), "images": [{"name": "p.png", "image": image}]}))


@pytest.fixture
def silent_store() -> Iterator[str]:
    """An S3 endpoint that accepts connections and requests but never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


async def test_delivery_is_inside_the_job_timeout(
    worker: Any, monkeypatch: pytest.MonkeyPatch, silent_store: str
) -> None:
    monkeypatch.setattr(worker.settings, "allow_loopback_urls", True)
    monkeypatch.setattr(worker.settings, "job_timeout_s", 2.0)
    store = {"bucket": "b", "endpoint_url": silent_store, "access_key_id": "k", "secret_access_key": "s"}
    started = time.monotonic()
    error = failed(await run_job(worker, {"workflow": graphs.empty_image(8, 8), "s3": store}))
    assert (error.code, error.details.get("stage")) == ("TIMEOUT", "deliver"), error
    assert time.monotonic() - started < 10.0, "boto's own read timeout is 60 s"
    monkeypatch.undo()
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))
