"""Import and configure ComfyUI inside this process (the order of these steps matters).

1. ComfyUI's folder goes first on sys.path.
2. CPU/GPU flags are set on ``comfy.cli_args.args`` before ``comfy.model_management`` is imported; we never let
   ComfyUI parse sys.argv (it would exit on RunPod's own flags).
3. ``utils.extra_config`` is imported before ``nodes`` (``nodes`` puts ``comfy/`` first on sys.path, and
   ``comfy/utils.py`` would then shadow the ``utils`` package).
4. Input/output/temp folders and model folders are set through ``folder_paths``.
5. Built-in and custom nodes are loaded with ``nodes.init_extra_nodes``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from handler.boot_log import quiet_boot
from handler.settings import WorkerSettings

log = logging.getLogger(__name__)

# Model kinds mapped to folders under a models root (the layout ComfyUI and the network volume share).
MODEL_KINDS = (
    "checkpoints",
    "clip",
    "text_encoders",
    "clip_vision",
    "configs",
    "controlnet",
    "diffusion_models",
    "unet",
    "embeddings",
    "loras",
    "upscale_models",
    "vae",
    "vae_approx",
    "liveportrait",
)


@dataclass
class ComfyModules:
    """The ComfyUI modules the engine drives, imported once."""

    execution: ModuleType
    nodes: ModuleType
    folder_paths: ModuleType
    model_management: ModuleType
    utils: ModuleType
    executing_context: Any  # comfy_execution.utils.get_executing_context
    failed_imports: list[str]


def _select_device(settings: WorkerSettings) -> str:
    if settings.device != "auto":
        return settings.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _set_flags(settings: WorkerSettings, device: str) -> None:
    from comfy.cli_args import args

    args.cpu = device == "cpu"
    args.highvram = settings.highvram and device == "cuda"
    args.disable_all_custom_nodes = not settings.custom_nodes
    args.disable_auto_launch = True
    args.preview_method = "none"
    args.disable_metadata = not settings.embed_metadata


def _set_folders(settings: WorkerSettings, folder_paths: ModuleType) -> dict[str, Path]:
    dirs = {name: settings.work_dir / name for name in ("input", "output", "temp")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    folder_paths.set_input_directory(str(dirs["input"]))
    folder_paths.set_output_directory(str(dirs["output"]))
    folder_paths.set_temp_directory(str(dirs["temp"]))
    if settings.models_dir is not None:
        for kind in MODEL_KINDS:
            folder_paths.add_model_folder_path(kind, str(settings.models_dir / kind), is_default=True)
    if settings.extra_custom_nodes_dir is not None and settings.extra_custom_nodes_dir.is_dir():
        folder_paths.add_model_folder_path("custom_nodes", str(settings.extra_custom_nodes_dir))
    return dirs


def _load_extra_model_paths(settings: WorkerSettings) -> None:
    path = settings.extra_model_paths
    if path is None or not path.is_file():
        return
    from utils.extra_config import load_extra_path_config

    # The yaml maps a network volume; folders that are absent simply hold no models.
    load_extra_path_config(str(path))
    log.info("extra model paths loaded", extra={"fields": {"path": str(path)}})


def import_comfy(settings: WorkerSettings) -> tuple[ComfyModules, dict[str, Path]]:
    """Import ComfyUI and load its nodes. Call once per process, on the engine's thread."""
    with quiet_boot():  # one line per optional node module that cannot import, no tracebacks
        return _import_comfy(settings)


def _import_comfy(settings: WorkerSettings) -> tuple[ComfyModules, dict[str, Path]]:
    root = settings.comfyui_path.resolve()
    if not (root / "comfyui_version.py").is_file():
        raise RuntimeError(f"No ComfyUI at {root}: set COMFYUI_PATH (python comfy_image/provide_comfyui.py)")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    device = _select_device(settings)
    _set_flags(settings, device)
    importlib.import_module("utils.extra_config")
    folder_paths = importlib.import_module("folder_paths")
    dirs = _set_folders(settings, folder_paths)
    _load_extra_model_paths(settings)
    nodes = importlib.import_module("nodes")
    execution = importlib.import_module("execution")
    failed = asyncio.run(nodes.init_extra_nodes(init_custom_nodes=settings.custom_nodes, init_api_nodes=False))
    from comfy_execution.utils import get_executing_context

    modules = ComfyModules(
        execution=execution,
        nodes=nodes,
        folder_paths=folder_paths,
        model_management=importlib.import_module("comfy.model_management"),
        utils=importlib.import_module("comfy.utils"),
        executing_context=get_executing_context,
        failed_imports=list(failed or []),
    )
    log.info(
        "comfyui imported",
        extra={"fields": {"device": device, "node_classes": len(nodes.NODE_CLASS_MAPPINGS), "failed": failed}},
    )
    return modules, dirs
