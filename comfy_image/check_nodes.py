"""Check that every node class the workflow templates use exists in a ComfyUI installation.

Boots ComfyUI in-process through the worker's own boot code (handler.comfy_boot: built-in nodes,\ncomfy_extras, the node packs in ComfyUI's custom_nodes and our own packages in comfy_image/nodes),
then compares it with every ``class_type`` found in the given JSON files. Any JSON layout works:
API-format graphs, preset files that embed a graph, lists of graphs. Run it in a fresh process: it
fills ComfyUI's module-level registries.

Exit status 0 when everything is there; 1 when a class is missing, or (``--strict-custom-nodes``)
when a custom node package failed to import; 2 on bad arguments. Used as a build step of
Dockerfile.worker and by the tests against the development copy of ComfyUI.

Usage::

    python -m comfy_image.check_nodes --comfyui /opt/comfyui [--custom-nodes DIR]
        [--strict-custom-nodes] [--no-custom-nodes] PATH [PATH ...]

PATH may be a JSON file or a folder searched recursively for ``*.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

log = logging.getLogger("check_nodes")

DEFAULT_OWN_NODES = Path(__file__).resolve().parent / "nodes"


class Report(BaseModel):
    used: dict[str, list[str]]  # class_type -> files using it
    available: int
    missing: dict[str, list[str]]
    failed_custom_nodes: list[str]
    failed_builtin_extras: list[str]

    def ok(self, strict_custom_nodes: bool) -> bool:
        return not self.missing and not (strict_custom_nodes and self.failed_custom_nodes)


def json_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def class_types_in(document: Any) -> Iterator[str]:
    """Yield the class_type of every node-shaped object (a dict with class_type and inputs)."""
    if isinstance(document, dict):
        class_type = document.get("class_type")
        if isinstance(class_type, str) and isinstance(document.get("inputs"), dict):
            yield class_type
        for value in document.values():
            yield from class_types_in(value)
    elif isinstance(document, list):
        for value in document:
            yield from class_types_in(value)


def collect_class_types(files: Iterable[Path]) -> dict[str, list[str]]:
    used: dict[str, set[str]] = {}
    for file in files:
        try:
            document = json.loads(file.read_text())
        except ValueError as exc:
            raise ValueError(f"{file}: not valid JSON: {exc}") from exc
        for class_type in class_types_in(document):
            used.setdefault(class_type, set()).add(str(file))
    return {name: sorted(users) for name, users in sorted(used.items())}


def boot_registry(
    comfyui: Path, custom_node_dir: Path | None, custom_nodes: bool
) -> tuple[set[str], list[str], list[str]]:
    """Boot ComfyUI exactly as the worker does, on the CPU; return (class names, failed packages, failed extras)."""
    from handler import comfy_server
    from handler.comfy_boot import import_comfy
    from handler.settings import WorkerSettings

    comfy_server.install(comfy_server.EngineServer(lambda _event, _data: None))
    with tempfile.TemporaryDirectory(prefix="check-nodes-") as work_dir:
        settings = WorkerSettings(
            comfyui_path=comfyui,
            device="cpu",
            work_dir=Path(work_dir),
            custom_nodes=custom_nodes,
            extra_custom_nodes_dir=custom_node_dir,
            extra_model_paths=None,
            warmup=None,
        )
        modules, _dirs = import_comfy(settings)
    node_dirs = modules.folder_paths.get_folder_paths("custom_nodes") if custom_nodes else []
    failed_custom = _failed_packages(node_dirs, modules.nodes.LOADED_MODULE_DIRS)
    return set(modules.nodes.NODE_CLASS_MAPPINGS), failed_custom, sorted(str(f) for f in modules.failed_imports)


def _failed_packages(node_dirs: Iterable[str], loaded: dict[str, str]) -> list[str]:
    """Node packages/modules in the custom_nodes folders that did not register (ComfyUI only logs them)."""
    failed: list[str] = []
    for folder in node_dirs:
        if not os.path.isdir(folder):
            continue
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            # A folder's own __init__.py is not a node module (ComfyUI tries it and logs a skip).
            if entry in ("__pycache__", "__init__.py") or entry.endswith(".disabled") or entry.startswith("."):
                continue
            # ComfyUI keys a loaded package by its folder name and a single-file module by its path sans .py.
            if os.path.isfile(os.path.join(path, "__init__.py")):
                if entry not in loaded:
                    failed.append(path)
            elif os.path.isfile(path) and entry.endswith(".py") and os.path.splitext(path)[0] not in loaded:
                failed.append(path)
    return failed


def build_report(comfyui: Path, paths: Sequence[Path], custom_node_dir: Path | None, custom_nodes: bool) -> Report:
    used = collect_class_types(json_files(paths))
    available, failed_custom, failed_extras = boot_registry(comfyui, custom_node_dir, custom_nodes)
    missing = {name: files for name, files in used.items() if name not in available}
    return Report(
        used=used,
        available=len(available),
        missing=missing,
        failed_custom_nodes=failed_custom,
        failed_builtin_extras=failed_extras,
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="JSON files or folders of them")
    parser.add_argument("--comfyui", type=Path, default=Path(os.environ.get("COMFYUI_PATH", ".comfyui")))
    parser.add_argument(
        "--custom-nodes",
        type=Path,
        default=DEFAULT_OWN_NODES,
        help="our own node packages (the worker's EXTRA_CUSTOM_NODES_DIR; default comfy_image/nodes)",
    )
    parser.add_argument("--no-custom-nodes", action="store_true", help="built-in nodes only")
    parser.add_argument("--strict-custom-nodes", action="store_true", help="fail when a node package fails to import")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        report = build_report(args.comfyui.resolve(), args.paths, args.custom_nodes, not args.no_custom_nodes)
    except (FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    if args.json:
        print(report.model_dump_json(indent=2))
    for package in report.failed_custom_nodes:
        log.error("custom node package failed to import: %s", package)
    for name, files in report.missing.items():
        log.error("missing node class %s (used by %s)", name, ", ".join(files))
    ok = report.ok(args.strict_custom_nodes)
    log.info(
        "%s: %d node classes used, %d registered, %d missing, %d custom node packages failed",
        "OK" if ok else "FAILED",
        len(report.used),
        report.available,
        len(report.missing),
        len(report.failed_custom_nodes),
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
