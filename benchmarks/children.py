"""Child processes the cold-start benchmarks time from the outside.

    python benchmarks/children.py worker JOB_JSON   # what `python -m handler` does: Worker(...).start(), one job
    python benchmarks/children.py bare JOB_JSON     # the bare in-process recipe: import ComfyUI, init nodes, one run
    python benchmarks/children.py checkpoint PATH   # write the tests' tiny random checkpoint

Each timed child prints ``READY`` once it can take a job and ``DONE`` after its first job; the parent stamps the
lines as they arrive. Configuration comes from the environment (COMFYUI_PATH, DEVICE, WORK_DIR), as in production.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
COMFYUI = Path(os.environ.get("COMFYUI_PATH", REPO_ROOT / ".comfyui")).resolve()


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def worker(job: dict[str, Any]) -> None:
    sys.path.insert(0, str(REPO_ROOT))
    from handler import logs
    from handler.__main__ import boot
    from handler.settings import WorkerSettings
    from handler.worker import Worker

    settings = WorkerSettings()
    logs.configure(settings.log_level, settings.log_json)
    if os.environ.get("BENCH_IMPORT_RUNPOD", "1") == "1":
        instance, _runpod = boot(settings)  # exactly what `python -m handler` does before serving
    else:
        instance = Worker(settings)
        asyncio.run(instance.start())
    say("READY")
    result = asyncio.run(instance.handle(job))
    say("DONE " + ("error" if "error" in result else "ok"))


class _Server:
    """The smallest stand-in ComfyUI's execution needs (no HTTP server in the bare recipe either)."""

    instance: _Server | None = None

    def __init__(self) -> None:
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets_metadata: dict[str, Any] = {}
        self.routes = None

    def send_sync(self, event: str, data: Any, sid: str | None = None) -> None:
        return None

    def send_progress_text(self, text: str, node_id: str, sid: str | None = None) -> None:
        return None


def bare(job: dict[str, Any]) -> None:
    sys.path.insert(0, str(COMFYUI))
    module = types.ModuleType("server")
    module.PromptServer = _Server  # type: ignore[attr-defined]
    _Server.instance = _Server()
    sys.modules["server"] = module
    from comfy.cli_args import args

    args.cpu = True
    # utils.extra_config before `nodes`, which shadows the `utils` package (the order is the recipe)
    importlib.import_module("utils.extra_config")
    folder_paths = importlib.import_module("folder_paths")

    work = Path(os.environ.get("WORK_DIR", "/tmp/comfy-bare"))
    for name in ("input", "output", "temp"):
        (work / name).mkdir(parents=True, exist_ok=True)
        getattr(folder_paths, f"set_{name}_directory")(str(work / name))
    import nodes

    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
    import execution

    executor = execution.PromptExecutor(
        _Server.instance, cache_type=execution.CacheType.CLASSIC, cache_args={"lru": 0, "ram": 0}
    )
    say("READY")
    prompt = job["input"]["workflow"]
    ok, error, outputs, _ = asyncio.run(execution.validate_prompt("bare-1", prompt, None))
    if not ok:
        raise SystemExit(f"invalid prompt: {error}")
    executor.execute(prompt, "bare-1", {}, outputs)
    say("DONE " + ("ok" if executor.success else "error"))


def checkpoint(path: str) -> None:
    sys.path[:0] = [str(REPO_ROOT), str(COMFYUI)]  # ours first: ComfyUI has a `tests` package too
    from comfy.cli_args import args

    args.cpu = True
    import utils.extra_config  # noqa: F401

    from tests.support.tiny_checkpoint import write_tiny_checkpoint

    write_tiny_checkpoint(Path(path))


def main() -> None:
    mode, arg = sys.argv[1], sys.argv[2]
    if mode == "checkpoint":
        checkpoint(arg)
    elif mode == "worker":
        worker(json.loads(arg))
    elif mode == "bare":
        bare(json.loads(arg))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
