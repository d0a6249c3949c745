"""The RunPod handler: one job in, a JobOutput or a specific error out, the worker healthy afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from handler.budgets import check_produced
from handler.engine import ComfyEngine, EngineResult, ProgressCallback
from handler.errors import ErrorCode, JobError
from handler.files import JobFiles, remove_stale
from handler.images import DownloadBudget
from handler.logs import job_id_var
from handler.outputs import ProducedFile, collect
from handler.prepare import prepare
from handler.progress import ProgressThrottle
from handler.sandbox import JobGuard
from handler.schema import JobInput, JobOutput, OutputItem, OutputKind, S3Override, Timings
from handler.settings import REPO_ROOT, WorkerSettings
from handler.storage import deliver, resolve_target, s3_override_from_runpod

log = logging.getLogger(__name__)
ProgressSink = Callable[[dict[str, Any], dict[str, Any]], None]
WARMUP_DIR = REPO_ROOT / "comfy_image" / "warmup"


def runpod_progress(job: dict[str, Any], progress: dict[str, Any]) -> None:
    import runpod  # imported lazily: the local endpoint's worker processes report through a pipe instead

    runpod.serverless.progress_update(job, progress)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 3)


def parse_input(raw: Any) -> JobInput:
    if not isinstance(raw, dict):
        raise JobError(ErrorCode.INVALID_INPUT, "The job input must be a JSON object.", field="input")
    try:
        return JobInput.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "input"
        raise JobError(
            ErrorCode.INVALID_INPUT,
            f"{where}: {first['msg']}",
            field=where,
            errors=[{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()[:10]],
        ) from exc


class Worker:
    def __init__(self, settings: WorkerSettings, progress_sink: ProgressSink | None = None) -> None:
        self.settings = settings
        self.engine = ComfyEngine(settings)
        self._sink = progress_sink or runpod_progress
        self._stops: dict[str, ErrorCode] = {}
        # Removing a job's folders costs milliseconds of directory updates on some disks: it runs after the response,
        # off the next job's path (every run has a new folder, and a job loads only what it staged itself).
        self._cleaner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-cleanup")
        self._cleaning: Future[None] | None = None
        # Deliveries get their own threads: one abandoned at the job timeout (an S3 store that never answers) must
        # neither hold the next job's delivery nor the event loop's default executor.
        self._delivery = ThreadPoolExecutor(max_workers=4, thread_name_prefix="deliver")

    async def start(self) -> None:
        await self.engine.boot()
        self.engine.comfy.nodes.NODE_CLASS_MAPPINGS.update(JobGuard.CLASSES)
        # Job folders a killed process left; a minute more than any job may take, so no sibling's running job.
        stale_s = self.settings.job_timeout_s + self.settings.interrupt_grace_s + 60
        remove_stale(self.settings.work_dir / "jobs", stale_s)
        if self.settings.warmup:
            await self._warm_up(self.settings.warmup)

    async def _warm_up(self, name: str) -> None:
        path = Path(name) if name.endswith(".json") else WARMUP_DIR / f"{name}.json"
        started = time.perf_counter()
        job = {"id": "warmup", "input": json.loads(path.read_text())}
        result = await self.handle(job, report=False, trusted=True)
        level = logging.WARNING if "error" in result else logging.INFO
        log.log(
            level,
            "warm-up done",
            extra={"fields": {"warmup": name, "s": time.perf_counter() - started, "error": result.get("error")}},
        )

    def cancel(self, job_id: str, code: ErrorCode = ErrorCode.CANCELLED) -> None:
        """Stop a job (thread-safe): it ends with ``code`` (CANCELLED or TIMEOUT) and the worker stays usable."""
        self._stops[job_id] = code
        self.engine.interrupt(job_id, code)

    async def cleaned(self) -> None:
        """Wait until the last finished job's folders are gone."""
        if self._cleaning is not None:
            await asyncio.wrap_future(self._cleaning)

    async def handle(self, job: dict[str, Any], report: bool = True, trusted: bool = False) -> dict[str, Any]:
        """Run one job; ``trusted`` (the operator's own warm-up) skips the node policy, never the other checks."""
        job_id = str(job.get("id") or uuid.uuid4())
        token = job_id_var.set(job_id)
        files = JobFiles(job_id, self.settings.work_dir / "jobs")
        try:
            output = await self._run(job, job_id, files, report, trusted)
            log.info("job done", extra={"fields": {"outputs": len(output.outputs), **output.timings.model_dump()}})
            return output.model_dump(mode="json", exclude_none=True)
        except JobError as err:
            return await self._failure(err)
        except asyncio.CancelledError:
            log.info("job cancelled by the platform")
            raise
        except Exception:
            log.exception("job failed unexpectedly")
            return await self._failure(JobError(ErrorCode.INTERNAL))
        finally:
            self._stops.pop(job_id, None)
            self._cleaning = self._cleaner.submit(files.cleanup)
            job_id_var.reset(token)

    async def _failure(self, err: JobError) -> dict[str, Any]:
        log.warning("job failed", extra={"fields": {"code": err.code, "error": err.message}})
        result: dict[str, Any] = {"error": err.info().model_dump_json()}
        if err.details.get("stuck"):
            # The engine thread is still inside a node that ignores interrupts: only a new process is healthy.
            result["refresh_worker"] = True
        elif err.code is ErrorCode.OUT_OF_MEMORY:
            await self.engine.free_memory()
            result["refresh_worker"] = True  # a fresh process is the surest way back to a clean GPU
        return result

    def _downloads(self, started: float) -> DownloadBudget:
        """The tighter of IMAGE_DOWNLOAD_DEADLINE_S and what is left of JOB_TIMEOUT_S (then it is a TIMEOUT)."""
        now = time.monotonic()
        job_end = now + self.settings.job_timeout_s - (time.perf_counter() - started)
        if job_end <= now + self.settings.image_download_deadline_s:
            return DownloadBudget(job_end, "JOB_TIMEOUT_S", ErrorCode.TIMEOUT)
        return DownloadBudget(now + self.settings.image_download_deadline_s, "IMAGE_DOWNLOAD_DEADLINE_S")

    def _remaining(self, started: float, stage: str) -> float:
        remaining = self.settings.job_timeout_s - (time.perf_counter() - started)
        if remaining <= 0:
            raise JobError(ErrorCode.TIMEOUT, stage=stage)
        return remaining

    async def _run(
        self, job: dict[str, Any], job_id: str, files: JobFiles, report: bool, trusted: bool = False
    ) -> JobOutput:
        started = time.perf_counter()
        job_input = parse_input(job.get("input"))
        override = job_input.s3 or s3_override_from_runpod(job.get("s3Config"))
        await asyncio.to_thread(resolve_target, self.settings, override)  # refuse a storage request before any work
        files.create()
        prepared = await asyncio.to_thread(prepare, job_input, files, self.settings, self._downloads(started))
        prepared_at = time.perf_counter()
        self._remaining(started, "prepare")
        on_progress = ProgressThrottle.for_job(lambda p: self._sink(job, p), self.settings, prepared.preset)
        guard = JobGuard(self.settings, files, raw=job_input.workflow is not None and not trusted)
        result = await self._execute(job_id, prepared.prompt, on_progress if report else None, started, files, guard)
        produced, texts = collect(result.outputs, files.dirs)
        check_produced(produced, texts, self.settings)
        executed_at = time.perf_counter()
        items = await self._deliver(produced, override, job_input, job_id, started)
        items += [
            OutputItem(
                node_id=t.node_id,
                kind=OutputKind.TEXT,
                content_type="text/plain",
                size=len(t.text.encode()),
                text=t.text,
            )
            for t in texts
        ]
        done = time.perf_counter()
        timings = Timings(
            prepare_ms=_ms(started, prepared_at),
            validate_ms=round(result.validate_ms, 3),
            execute_ms=round(result.execute_ms, 3),
            upload_ms=_ms(executed_at, done),
            total_ms=_ms(started, done),
        )
        return JobOutput(
            outputs=items, timings=timings, preset=prepared.preset, params=prepared.params, warnings=prepared.warnings
        )

    async def _deliver(
        self,
        produced: list[ProducedFile],
        override: S3Override | None,
        job_input: JobInput,
        job_id: str,
        started: float,
    ) -> list[OutputItem]:
        """Deliver within what is left of JOB_TIMEOUT_S (an upload past it is abandoned: TIMEOUT)."""
        remaining = self._remaining(started, "deliver")
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()  # the job id stays on the delivery's log lines
        args = (deliver, produced, self.settings, override, job_input.delivery, job_id)
        work = loop.run_in_executor(self._delivery, ctx.run, *args)
        try:
            return await asyncio.wait_for(work, timeout=remaining)
        except TimeoutError as exc:
            raise JobError(ErrorCode.TIMEOUT, stage="deliver") from exc

    async def _execute(
        self,
        job_id: str,
        prompt: dict[str, Any],
        on_progress: ProgressCallback | None,
        started: float,
        files: JobFiles,
        guard: JobGuard,
    ) -> EngineResult:
        if job_id in self._stops:
            raise JobError(self._stops[job_id])
        confine = files.root if guard.raw else None
        task = asyncio.ensure_future(self.engine.run(job_id, prompt, on_progress, files.dirs, guard, confine))
        remaining = max(0.001, self.settings.job_timeout_s - (time.perf_counter() - started))
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=remaining)
        except TimeoutError:
            self.cancel(job_id, ErrorCode.TIMEOUT)
            return await self._settle(task, ErrorCode.TIMEOUT)
        except asyncio.CancelledError:
            self.cancel(job_id, ErrorCode.CANCELLED)
            with contextlib.suppress(JobError):
                await asyncio.shield(self._settle(task, ErrorCode.CANCELLED))
            raise

    async def _settle(self, task: asyncio.Future[EngineResult], code: ErrorCode) -> EngineResult:
        """Wait for an interrupted run to stop; a run that will not stop leaves a worker to be replaced."""
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=self.settings.interrupt_grace_s)
        except TimeoutError as exc:
            raise JobError(code, stuck=True) from exc
