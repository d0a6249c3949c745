"""Live previews travel from the worker process through the local endpoint's /status to the CLI."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from bot import cli
from handler.local_endpoint import EndpointServer
from handler.settings import WorkerSettings
from tests.endpoint.conftest import endpoint_worker_settings, fast_endpoint_settings
from tests.endpoint.test_progress import sampler_job


@pytest.fixture(scope="module")
def preview_endpoint(
    tmp_path_factory: pytest.TempPathFactory, worker_settings: WorkerSettings, tiny_checkpoint: str
) -> Iterator[EndpointServer]:
    """An endpoint whose workers send previews for every job, at most five a second, with SDXL = the tiny model."""
    base = endpoint_worker_settings(worker_settings, tmp_path_factory.mktemp("preview-worker"))
    # Every report carries a preview (same interval for both): a status poll can never land only on reports
    # without one, which under CI load made the CLI miss every preview of a short job.
    update = {
        "previews": "all",
        "preview_interval_s": 0.2,
        "progress_interval_s": 0.2,
        "sdxl_checkpoint": tiny_checkpoint,
    }
    settings = base.model_copy(update=update)
    server = EndpointServer(fast_endpoint_settings(), settings)
    server.start_in_thread()
    server.wait_ready()
    yield server
    server.stop()


@pytest.mark.slow
def test_cli_saves_the_live_preview_while_the_job_runs(
    preview_endpoint: EndpointServer,
    tiny_checkpoint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNPOD_POLL_INITIAL_S", "0.05")
    monkeypatch.setenv("RUNPOD_POLL_MAX_S", "0.1")
    workflow = tmp_path / "fox.json"
    workflow.write_text(json.dumps(sampler_job(tiny_checkpoint, steps=400)["workflow"]))
    out = tmp_path / "out"

    code = cli.main(
        [
            "--base-url",
            preview_endpoint.url,
            "--endpoint-id",
            "local",
            "run",
            "--workflow",
            str(workflow),
            "--out",
            str(out),
        ]
    )

    err = capsys.readouterr().err
    assert code == cli.EXIT_OK
    assert f"live preview: {out / cli.PREVIEW_FILE}" in err
    preview = Image.open(out / cli.PREVIEW_FILE)
    assert preview.format == "JPEG" and preview.size == (256, 256)
    assert (out / cli.PREVIEW_FILE).stat().st_size < 8 * 1024


@pytest.mark.slow
async def test_status_carries_the_preview_as_sent(preview_endpoint: EndpointServer, tiny_checkpoint: str) -> None:
    import asyncio

    from bot.runpod_client import RunPodClient, RunPodSettings

    settings = RunPodSettings(base_url=preview_endpoint.url, endpoint_id="local", poll_initial_s=0.05)  # type: ignore[arg-type]
    async with RunPodClient(settings) as client:
        job = await client.run(sampler_job(tiny_checkpoint, steps=5000))
        previews: list[str] = []
        async with asyncio.timeout(120):
            while len(set(previews)) < 2:
                progress = (await client.status(job.id)).progress()
                if progress is not None and progress.preview:
                    previews.append(progress.preview)
                await asyncio.sleep(0.05)
        await client.cancel(job.id)
    image = Image.open(io.BytesIO(base64.b64decode(previews[-1])))
    assert image.format == "JPEG" and max(image.size) == 256


async def test_upscale_preset_is_reachable_with_plain_json(preview_endpoint: EndpointServer) -> None:
    """What `curl -d '{"input": {"preset": "sdxl_upscale", "params": {...}}}' .../runsync` sends and gets."""
    import httpx

    picture = Image.new("RGB", (96, 64), (180, 90, 30))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    body = {
        "input": {
            "preset": "sdxl_upscale",
            "params": {"image": base64.b64encode(buffer.getvalue()).decode(), "steps": 2},
        }
    }
    async with httpx.AsyncClient(timeout=120) as http:
        reply = (await http.post(f"{preview_endpoint.url}/local/runsync", json=body, params={"wait": 90000})).json()
    assert reply["status"] == "COMPLETED", reply
    output = reply["output"]
    assert output["preset"] == "sdxl_upscale" and (output["params"]["width"], output["params"]["height"]) == (192, 128)
    [item] = output["outputs"]
    assert Image.open(io.BytesIO(base64.b64decode(item["data"]))).size == (192, 128)
