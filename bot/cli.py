"""Command-line client of a RunPod endpoint (RunPod's cloud or the local one).

  python -m bot.cli --local run --workflow my_workflow.json --out out/
  python -m bot.cli run --preset sdxl --param prompt="a red fox" --param seed=7
  python -m bot.cli status <job-id> | cancel <job-id> | health | purge

Endpoint and key come from RUNPOD_BASE_URL / RUNPOD_ENDPOINT_ID / RUNPOD_API_KEY or the options below.
While a job samples, its latest live preview (when the worker sends them) is written to OUT/preview.jpg.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr, ValidationError

from bot.runpod_client import (
    JobNotFound,
    JobStatus,
    Policy,
    RunPodClient,
    RunPodError,
    RunPodHTTPError,
    RunPodSettings,
    RunPodUnavailable,
)
from workflows.contract import JobOutput, JobState, OutputItem

LOCAL_BASE_URL = "http://127.0.0.1:8000/v2"
PREVIEW_FILE = "preview.jpg"  # in --out: the latest live preview of a running job

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_HTTP, EXIT_UNREACHABLE, EXIT_TIMEOUT = 0, 1, 2, 3, 4, 5


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.cli", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="API base, e.g. https://api.runpod.ai/v2 (RUNPOD_BASE_URL)")
    parser.add_argument("--endpoint-id", help="endpoint id (RUNPOD_ENDPOINT_ID)")
    parser.add_argument("--api-key", help="API key (RUNPOD_API_KEY; prefer the variable: options show in ps)")
    parser.add_argument("--local", action="store_true", help=f"use the local endpoint at {LOCAL_BASE_URL}/local")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="submit a job, show progress, download its outputs")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="preset name, e.g. sdxl")
    source.add_argument("--workflow", type=Path, help="API-format workflow JSON file")
    run.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="preset parameter (JSON value)")
    run.add_argument("--image", action="append", default=[], metavar="[NAME=]PATH", help="input image for the job")
    run.add_argument("--out", type=Path, default=Path("out"), help="folder for the outputs (default ./out)")
    run.add_argument("--deadline", type=float, help="seconds to wait before cancelling (default: image deadline)")
    run.add_argument("--execution-timeout", type=float, help="seconds the worker may run it (policy)")
    run.add_argument("--webhook", help="URL the endpoint POSTs the result to")
    for name in ("status", "cancel"):
        commands.add_parser(name, help=f"{name} a job").add_argument("job_id")
    commands.add_parser("health", help="workers and job counts")
    commands.add_parser("purge", help="drop every queued job")
    return parser


def _settings(args: argparse.Namespace) -> RunPodSettings:
    overrides: dict[str, Any] = {}
    if args.local:
        overrides.update(base_url=LOCAL_BASE_URL, endpoint_id="local")
    if args.base_url:
        overrides["base_url"] = args.base_url
    if args.endpoint_id:
        overrides["endpoint_id"] = args.endpoint_id
    if args.api_key:
        overrides["api_key"] = SecretStr(args.api_key)
    try:
        return RunPodSettings(**overrides)
    except ValidationError as exc:
        missing = [".".join(map(str, e["loc"])) for e in exc.errors()]
        raise UsageError(
            f"endpoint not configured ({', '.join(missing)}): set RUNPOD_ENDPOINT_ID or --endpoint-id"
        ) from None


def _param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--param {text!r}: expected KEY=VALUE")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def _image(text: str) -> dict[str, str]:
    name, sep, path = text.partition("=")
    file = Path(path if sep else name)
    if not file.is_file():
        raise UsageError(f"--image {text!r}: no such file {file}")
    return {"name": name if sep else file.name, "image": base64.b64encode(file.read_bytes()).decode()}


def build_input(args: argparse.Namespace) -> dict[str, Any]:
    """The job ``input`` the worker expects (handler/schema.py: JobInput)."""
    job: dict[str, Any]
    if args.workflow is not None:
        try:
            job = {"workflow": json.loads(args.workflow.read_text())}
        except (OSError, ValueError) as exc:
            raise UsageError(f"--workflow {args.workflow}: {exc}") from None
        if args.param:
            raise UsageError("--param belongs to --preset")
    else:
        job = {"preset": args.preset, "params": dict(_param(p) for p in args.param)}
    if args.image:
        job["images"] = [_image(text) for text in args.image]
    return job


class ProgressBar:
    """One status line on stderr, redrawn as the job moves; live previews are written to ``preview_path``."""

    def __init__(self, width: int = 30, preview_path: Path | None = None) -> None:
        self.width = width
        self.preview_path = preview_path
        self.previews = 0

    def __call__(self, status: JobStatus) -> None:
        progress = status.progress()
        if progress is not None and progress.preview:
            self._save_preview(progress.preview)
        percent = 100.0 if status.status is JobState.COMPLETED else progress.percent if progress else 0.0
        filled = int(self.width * min(max(percent, 0.0), 100.0) / 100)
        node = progress.node_type or "" if progress else ""
        step = f" {progress.step}/{progress.max}" if progress and progress.max else ""
        bar = "#" * filled + "." * (self.width - filled)
        sys.stderr.write(f"\r[{bar}] {percent:5.1f}% {status.status.value} {node}{step}".ljust(100))
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")

    def _save_preview(self, data: str) -> None:
        if self.preview_path is None:
            return
        try:
            self.preview_path.parent.mkdir(parents=True, exist_ok=True)
            self.preview_path.write_bytes(base64.b64decode(data, validate=True))
        except (OSError, ValueError) as exc:  # a preview is a nicety: the job goes on without it
            sys.stderr.write(f"\nlive preview not saved: {exc}\n")
            return
        self.previews += 1
        if self.previews == 1:
            sys.stderr.write(f"\nlive preview: {self.preview_path} (updated while the job runs)\n")


def _target(out: Path, item: OutputItem, index: int) -> Path:
    name = Path(item.filename or f"{item.node_id}_{index}").name or f"output_{index}"
    return out / name


async def download(outputs: JobOutput, out: Path, settings: RunPodSettings) -> list[Path]:
    """Write every output into ``out``: presigned URLs fetched, base64 decoded, texts as .txt."""
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a CLI: nothing else runs on this loop)
    written: list[Path] = []
    timeout = httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as http:
        for index, item in enumerate(outputs.outputs):
            path = _target(out, item, index)
            if item.url:
                async with http.stream("GET", item.url) as response:
                    response.raise_for_status()
                    with path.open("wb") as file:
                        async for chunk in response.aiter_bytes():
                            file.write(chunk)
            elif item.data is not None:
                path.write_bytes(base64.b64decode(item.data))
            elif item.text is not None:
                path = path.with_suffix(".txt")
                path.write_text(item.text)
            else:
                continue
            written.append(path)
    return written


def _print_timings(status: JobStatus, outputs: JobOutput | None) -> None:
    print(f"job {status.id}: {status.status.value}  queue {status.delayTime} ms, execution {status.executionTime} ms")
    if outputs is not None:
        t = outputs.timings
        print(
            f"  worker: prepare {t.prepare_ms:.0f} ms, validate {t.validate_ms:.0f} ms, execute {t.execute_ms:.0f} ms, "
            f"upload {t.upload_ms:.0f} ms, total {t.total_ms:.0f} ms"
        )


async def run_job(client: RunPodClient, args: argparse.Namespace) -> int:
    policy = Policy(executionTimeout=int(args.execution_timeout * 1000)) if args.execution_timeout else None
    submitted = await client.run(build_input(args), webhook=args.webhook, policy=policy)
    print(f"submitted job {submitted.id}", file=sys.stderr)
    bar = ProgressBar(preview_path=args.out / PREVIEW_FILE)
    deadline = args.deadline or client.settings.image_deadline_s
    try:
        final = await client.wait(submitted.id, deadline_s=deadline, on_progress=bar)
    except asyncio.CancelledError:  # Ctrl-C: do not leave the job running (and billing) on the endpoint
        print(f"\ninterrupted: cancelling job {submitted.id}", file=sys.stderr)
        with contextlib.suppress(RunPodError):
            await client.cancel(submitted.id)
        raise
    bar(final)
    bar.done()
    if final.status is not JobState.COMPLETED:
        info = final.error_info()
        assert info is not None
        print(f"job {final.id} {final.status.value}: [{info.code.value}] {info.message}", file=sys.stderr)
        if info.details:
            print(f"  details: {json.dumps(info.details)[:2000]}", file=sys.stderr)
        print(f"  retryable: {'yes' if info.retryable else 'no'}", file=sys.stderr)
        return EXIT_TIMEOUT if final.status is JobState.TIMED_OUT else EXIT_JOB_FAILED
    outputs = final.job_output()
    assert outputs is not None
    for path in await download(outputs, args.out, client.settings):
        print(path)
    for warning in outputs.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    _print_timings(final, outputs)
    return EXIT_OK


async def _command(args: argparse.Namespace, settings: RunPodSettings) -> int:
    async with RunPodClient(settings) as client:
        if args.command == "run":
            return await run_job(client, args)
        if args.command == "status":
            result: Any = await client.status(args.job_id)
        elif args.command == "cancel":
            result = await client.cancel(args.job_id)
        elif args.command == "health":
            result = await client.health()
        else:
            result = await client.purge_queue()
        print(result.model_dump_json(indent=2, exclude_none=True))
        return EXIT_OK


def _explain(exc: RunPodHTTPError) -> str:
    hints = {
        401: "the API key was rejected (RUNPOD_API_KEY)",
        404: "no such job (unknown, expired or purged)" if isinstance(exc, JobNotFound) else "no such endpoint",
        413: "the request is too large (10 MB for /run, 20 MB for /runsync): send images by URL",
        429: "rate limited even after retries: slow down",
    }
    hint = hints.get(exc.status_code, "server error after retries" if exc.status_code >= 500 else "request refused")
    return f"{hint}: {exc}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_command(args, _settings(args)))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RunPodHTTPError as exc:
        print(f"error: {_explain(exc)}", file=sys.stderr)
        return EXIT_HTTP
    except RunPodUnavailable as exc:
        print(f"error: cannot reach the endpoint: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (RunPodError, httpx.HTTPError, ValidationError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_HTTP
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
