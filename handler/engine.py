"""The one object per worker process that owns ComfyUI: boot, then validate -> execute for each job.

Every call into ComfyUI runs on one dedicated thread: ComfyUI keeps process-wide state (loaded models, caches,
the interrupt flag), torch ran markedly slower when jobs hopped between threads, and the asyncio loop stays free
for cancellation and progress while a job runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from handler import fs_guard, previews
from handler.comfy_boot import ComfyModules, import_comfy
from handler.comfy_server import EngineServer, install
from handler.engine_errors import execution_error, validation_error
from handler.errors import ErrorCode, JobError
from handler.settings import WorkerSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ProgressEvent:
    node: str | None
    node_type: str | None
    step: int
    max: int
    preview: Any = None  # what ComfyUI's previewer handed the progress bar (handler/previews.py)


ProgressCallback = Callable[[ProgressEvent], None]
# Checks (and may rewrite) a job's graph on the engine thread, with ComfyUI's folders already the job's own.
Guard = Callable[[ComfyModules, dict[str, Any]], None]


@dataclass
class EngineResult:
    outputs: dict[str, dict[str, Any]]  # ComfyUI's history "outputs", keyed by node id
    validate_ms: float
    execute_ms: float


@dataclass
class _Run:
    job_id: str
    prompt: dict[str, Any]
    on_progress: ProgressCallback | None
    dirs: dict[str, Path] | None = None  # the job's own input/output/temp folders
    guard: Guard | None = None
    confine: Path | None = None  # a raw workflow's job folder: its nodes write only there (handler/fs_guard.py)
    stop_code: ErrorCode | None = None
    node: str | None = None
    events: list[tuple[str, Any]] = field(default_factory=list)


class ComfyEngine:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="comfy-engine")
        self._lock = threading.Lock()
        self._run: _Run | None = None
        self._comfy: ComfyModules | None = None
        self._executor: Any = None
        self.dirs: dict[str, Path] = {}
        self.boot_s: float | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------------
    async def boot(self) -> None:
        if self._comfy is None:
            await self._on_thread(self._boot)

    def _boot(self) -> None:
        started = time.perf_counter()
        install(EngineServer(self._on_event))
        self._comfy, self.dirs = import_comfy(self.settings)
        self._comfy.utils.set_progress_bar_global_hook(self._on_progress)
        previews.install(enabled=self.settings.previews != "off")
        execution = self._comfy.execution
        # Keep the CLASSIC cache so loaded models stay warm between jobs; cache_args must be a dict here.
        self._executor = execution.PromptExecutor(
            EngineServer.instance, cache_type=execution.CacheType.CLASSIC, cache_args={"lru": 0, "ram": 0}
        )
        self.boot_s = time.perf_counter() - started

    @property
    def comfy(self) -> ComfyModules:
        if self._comfy is None:
            raise RuntimeError("engine not booted")
        return self._comfy

    def node_classes(self) -> dict[str, Any]:
        return dict(self.comfy.nodes.NODE_CLASS_MAPPINGS)

    async def _on_thread(self, fn: Callable[..., T], *args: Any) -> T:
        ctx = contextvars.copy_context()  # keeps the job id on log lines written by ComfyUI
        return await asyncio.get_running_loop().run_in_executor(self._pool, ctx.run, fn, *args)

    # ---- jobs ------------------------------------------------------------------------------------------------
    async def run(
        self,
        job_id: str,
        prompt: dict[str, Any],
        on_progress: ProgressCallback | None = None,
        dirs: dict[str, Path] | None = None,
        guard: Guard | None = None,
        confine: Path | None = None,
    ) -> EngineResult:
        """Validate and execute one API-format graph; raises JobError with a specific code on failure.

        With ``dirs``, ComfyUI's input/output/temp folders are the job's own while it runs; ``guard`` checks the
        graph first; with ``confine``, nodes write only inside that folder while they execute.
        """
        run = _Run(job_id=job_id, prompt=prompt, on_progress=on_progress, dirs=dirs, guard=guard, confine=confine)
        with self._lock:
            self._run = run
        try:
            return await self._on_thread(self._execute, run)
        finally:
            with self._lock:
                if self._run is run:  # a stuck run ending late must not clear the run that replaced it
                    self._run = None

    def interrupt(self, job_id: str, code: ErrorCode = ErrorCode.CANCELLED) -> bool:
        """Stop the running job (thread-safe). ComfyUI checks the flag at each node and each sampler step."""
        with self._lock:
            run = self._run
            if run is None or run.job_id != job_id:
                return False
            run.stop_code = run.stop_code or code
        self.comfy.model_management.interrupt_current_processing(True)
        return True

    async def free_memory(self) -> None:
        """Drop loaded models and cached tensors (after an out-of-memory error), on the engine's thread."""
        await self._on_thread(self._free_memory)

    def _free_memory(self) -> None:
        mm = self.comfy.model_management
        mm.unload_all_models()
        mm.soft_empty_cache()
        self._executor.reset()

    @contextlib.contextmanager
    def _job_folders(self, dirs: dict[str, Path] | None) -> Iterator[None]:
        """ComfyUI's folders point at the job's own for the run, and back at the (empty) idle ones after it."""
        fp = self.comfy.folder_paths
        use = dirs or self.dirs
        fp.set_input_directory(str(use["input"]))
        fp.set_output_directory(str(use["output"]))
        fp.set_temp_directory(str(use["temp"]))
        # Node objects (SaveImage, PreviewImage) keep the folder they were created with: new ones per job.
        objects = self._executor.caches.objects
        objects.cache.clear()
        objects.subcaches.clear()
        try:
            yield
        finally:
            fp.set_input_directory(str(self.dirs["input"]))
            fp.set_output_directory(str(self.dirs["output"]))
            fp.set_temp_directory(str(self.dirs["temp"]))

    def _execute(self, run: _Run) -> EngineResult:
        self._raise_if_stopped(run)
        with self._job_folders(run.dirs):
            if run.guard is not None:
                run.guard(self.comfy, run.prompt)
            return self._validate_and_execute(run)

    def _validate_and_execute(self, run: _Run) -> EngineResult:
        started = time.perf_counter()
        execution = self.comfy.execution
        try:
            ok, error, outputs, node_errors = asyncio.run(execution.validate_prompt(run.job_id, run.prompt, None))
        except Exception as exc:  # validate_prompt trusts the graph's shape; hostile graphs can break it
            raise JobError(ErrorCode.WORKFLOW_INVALID, f"The workflow is malformed: {exc}") from exc
        if not ok or node_errors:
            raise validation_error(error or {"message": "Some outputs failed validation."}, node_errors)
        validated = time.perf_counter()
        self._raise_if_stopped(run)
        with fs_guard.confined(run.confine, self.settings.work_dir) if run.confine else contextlib.nullcontext():
            self._executor.execute(run.prompt, run.job_id, {"client_id": "engine"}, outputs)
        executed = time.perf_counter()
        for event, data in self._executor.status_messages:
            if event == "execution_error":
                raise execution_error(data)
            if event == "execution_interrupted":
                raise JobError(run.stop_code or ErrorCode.CANCELLED, node_id=data.get("node_id"))
        self._raise_if_stopped(run)
        return EngineResult(
            outputs=dict(self._executor.history_result.get("outputs", {})),
            validate_ms=(validated - started) * 1000,
            execute_ms=(executed - validated) * 1000,
        )

    @staticmethod
    def _raise_if_stopped(run: _Run) -> None:
        if run.stop_code is not None:
            raise JobError(run.stop_code)

    # ---- callbacks from ComfyUI (engine thread) ----------------------------------------------------------------
    def _on_event(self, event: str, data: Any) -> None:
        run = self._run
        if run is None:
            return
        if event == "execution_start" and run.stop_code is not None:
            # execute() clears the interrupt flag as it starts; re-raise a stop that arrived just before.
            self.comfy.model_management.interrupt_current_processing(True)
        elif event == "executing" and isinstance(data, dict):
            run.node = data.get("node")

    def _on_progress(
        self, value: int, total: int, preview: Any, prompt_id: str | None = None, node_id: str | None = None
    ) -> None:
        self.comfy.model_management.throw_exception_if_processing_interrupted()
        run = self._run
        if run is None or run.on_progress is None:
            return
        node = node_id or run.node
        context = self.comfy.executing_context()
        if node is None and context is not None:
            node = context.node_id
        node_type = run.prompt.get(node, {}).get("class_type") if node else None
        run.on_progress(ProgressEvent(node=node, node_type=node_type, step=int(value), max=int(total), preview=preview))
