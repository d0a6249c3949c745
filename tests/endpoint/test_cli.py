"""The command-line client against the local endpoint, and the endpoint's own main command."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot import cli
from bot.runpod_client import JobState, RunPodClient, RunPodSettings
from handler.local_endpoint import EndpointServer
from handler.settings import REPO_ROOT, WorkerSettings
from tests.endpoint.support import blank_job, long_job, until


def _args(endpoint: EndpointServer, *rest: str) -> list[str]:
    return ["--base-url", endpoint.url, "--endpoint-id", "local", *rest]


def test_run_downloads_outputs_and_prints_timings(
    local_endpoint: EndpointServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = tmp_path / "blank.json"
    workflow.write_text(json.dumps(blank_job(size=80)["workflow"]))

    code = cli.main(_args(local_endpoint, "run", "--workflow", str(workflow), "--out", str(tmp_path / "out")))

    out = capsys.readouterr().out
    assert code == cli.EXIT_OK
    [saved] = list((tmp_path / "out").iterdir())
    assert Image.open(saved).size == (80, 80)
    assert str(saved) in out and "COMPLETED" in out and "execution" in out


def test_a_failed_job_explains_its_error_code(
    local_endpoint: EndpointServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = tmp_path / "bad.json"
    workflow.write_text(json.dumps({"1": {"class_type": "NoSuchNode", "inputs": {}}}))

    code = cli.main(_args(local_endpoint, "run", "--workflow", str(workflow), "--out", str(tmp_path)))

    err = capsys.readouterr().err
    assert code == cli.EXIT_JOB_FAILED
    assert "FAILED: [WORKFLOW_INVALID]" in err and "retryable: no" in err


def test_endpoint_problems_get_clear_messages(
    local_endpoint: EndpointServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.main(["--base-url", local_endpoint.url, "--endpoint-id", "nope", "health"]) == cli.EXIT_HTTP
    assert "no such endpoint" in capsys.readouterr().err

    assert cli.main(_args(local_endpoint, "status", "no-such-job")) == cli.EXIT_HTTP
    assert "no such job" in capsys.readouterr().err

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/v2"
    monkeypatch.setenv("RUNPOD_MAX_ATTEMPTS", "1")
    assert cli.main(["--base-url", closed, "--endpoint-id", "x", "health"]) == cli.EXIT_UNREACHABLE
    assert "cannot reach the endpoint" in capsys.readouterr().err

    monkeypatch.delenv("RUNPOD_ENDPOINT_ID", raising=False)
    assert cli.main(["health"]) == cli.EXIT_USAGE
    assert "RUNPOD_ENDPOINT_ID" in capsys.readouterr().err

    assert cli.main(_args(local_endpoint, "run", "--workflow", str(tmp_path / "missing.json"))) == cli.EXIT_USAGE
    assert "missing.json" in capsys.readouterr().err


def test_health_prints_the_endpoint_state(local_endpoint: EndpointServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(_args(local_endpoint, "health")) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["workers"]["idle"] >= 0


@pytest.mark.slow
def test_main_command_serves_and_its_printed_curl_works(worker_settings: WorkerSettings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "COMFYUI_PATH": str(worker_settings.comfyui_path),
        "WORK_DIR": str(tmp_path / "work"),
        "LOCAL_ENDPOINT_WORKERS": "1",
        "LOG_JSON": "false",
    }
    env.pop("LOCAL_ENDPOINT_API_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "handler.local_endpoint", "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(6))
        assert re.search(r"http://127\.0\.0\.1:\d+/v2/local", banner), banner
        curl = banner[banner.index("curl") :]
        result = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=120, check=True)
        body = json.loads(result.stdout)
        assert body["status"] == "COMPLETED", body
        assert body["output"]["outputs"][0]["content_type"] == "image/png"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


async def test_ctrl_c_cancels_the_submitted_job(local_endpoint: EndpointServer, tmp_path: Path) -> None:
    workflow = tmp_path / "long.json"
    workflow.write_text(json.dumps(long_job()["workflow"]))
    command = [sys.executable, "-m", "bot.cli", *_args(local_endpoint, "run", "--workflow", str(workflow))]
    cli_process = await asyncio.create_subprocess_exec(
        *command, cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert cli_process.stderr is not None
    submitted = (await cli_process.stderr.readline()).decode()
    job_id = submitted.split()[-1]
    settings = RunPodSettings(base_url=local_endpoint.url, endpoint_id="local")  # type: ignore[arg-type]
    async with RunPodClient(settings) as client:
        assert (await until(client, job_id, JobState.IN_PROGRESS)).status is JobState.IN_PROGRESS

        cli_process.send_signal(signal.SIGINT)
        _, err = await cli_process.communicate()

        assert cli_process.returncode == 130
        assert f"cancelling job {job_id}" in err.decode()
        assert (await client.status(job_id)).status is JobState.CANCELLED
