"""The checks and rewrites a job's graph goes through on the engine thread, with ComfyUI's folders already
pointing at the job's own: node policy (raw workflows), file inputs, budgets, then output names scoped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from handler.budgets import check_budgets
from handler.comfy_boot import ComfyModules
from handler.errors import ErrorCode, JobError
from handler.file_inputs import (
    UPLOAD_FLAGS,
    FileRules,
    check_file_inputs,
    definitions,
    input_spec,
    is_link,
    unwrap_values,
)
from handler.files import JobFiles
from handler.settings import WorkerSettings

PREFIX_NODE = "WorkerScopedPrefix"
JOB_INPUT = "__job"  # an input no node declares: ComfyUI ignores it, but it is part of the node's cache key
_PREFIX_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_prefix(prefix: str) -> str:
    """A save prefix that names a file directly inside the job's output folder (no separators, no dots)."""
    return _PREFIX_UNSAFE.sub("_", prefix).strip("_")[:80] or "out"


class ScopedPrefix:
    """Sits between a linked ``filename_prefix`` and its save node: the prefix cannot name another folder."""

    CATEGORY = "worker"
    FUNCTION = "scope"
    RETURN_TYPES = ("STRING",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"prefix": ("*", {})}}

    @classmethod
    def VALIDATE_INPUTS(cls, input_types: Any) -> bool:
        return True  # any type: the value is turned into a safe string

    def scope(self, prefix: Any) -> tuple[str]:
        return (safe_prefix(str(prefix)),)


def check_node_policy(graph: Mapping[str, Any], settings: WorkerSettings) -> None:
    """Raw workflows only: the operator's NODE_ALLOW / NODE_DENY lists (WORKFLOW_INVALID naming the class)."""
    allow, deny = settings.node_allow, set(settings.node_deny)
    for node_id, node in graph.items():
        class_type = node["class_type"]
        setting = (
            "NODE_DENY"
            if class_type in deny
            else "NODE_ALLOW"
            if allow is not None and class_type not in allow
            else None
        )
        if setting is not None:
            raise JobError(
                ErrorCode.WORKFLOW_INVALID,
                f"Node {node_id} uses {class_type!r}, which this worker does not run ({setting}).",
                node_id=str(node_id),
                class_type=class_type,
                setting=setting,
            )


def scope_outputs(graph: dict[str, Any], classes: Mapping[str, Any], job_token: str) -> None:
    """Save names stay inside the job's output folder; output nodes never answer from an earlier job's cache."""
    for node_id, node in list(graph.items()):
        inputs = node.setdefault("inputs", {})
        prefix = inputs.get("filename_prefix")
        if isinstance(prefix, str):
            inputs["filename_prefix"] = safe_prefix(prefix)
        elif is_link(prefix):
            scoped_id = f"{node_id}:scoped-prefix"
            graph[scoped_id] = {"class_type": PREFIX_NODE, "inputs": {"prefix": prefix}}
            inputs["filename_prefix"] = [scoped_id, 0]
        cls = classes.get(node["class_type"])
        if cls is not None and (getattr(cls, "OUTPUT_NODE", False) or _reads_job_files(cls)):
            # Output nodes: never an earlier job's (deleted) file. Loaders: a loader without IS_CHANGED would be
            # served from the cache by its file *name*, i.e. an earlier job's image under the same name.
            inputs[JOB_INPUT] = job_token


def _reads_job_files(cls: Any) -> bool:
    defs = definitions(cls)
    specs = [input_spec(defs, name) for cat in ("required", "optional") for name in defs.get(cat) or {}]
    return any(spec and any(spec[1].get(flag) for flag in UPLOAD_FLAGS) for spec in specs)


@dataclass
class JobGuard:
    """Run by the engine for one job, after the job's folders are set and before ComfyUI validates."""

    settings: WorkerSettings
    files: JobFiles
    raw: bool  # a raw workflow (presets skip the node policy)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # unique per run, even for a reused job id
    CLASSES: ClassVar[dict[str, Any]] = {PREFIX_NODE: ScopedPrefix}

    def __call__(self, comfy: ComfyModules, graph: dict[str, Any]) -> None:
        classes: dict[str, Any] = comfy.nodes.NODE_CLASS_MAPPINGS
        unwrap_values(graph)  # the checks below see the graph as ComfyUI will execute it
        if self.raw:
            check_node_policy(graph, self.settings)
        rules = FileRules(self.files.input_dir, self.files.staged, lambda: _model_names(comfy))
        check_file_inputs(graph, classes, rules)
        check_budgets(graph, classes, self.files.staged, self.settings)
        scope_outputs(graph, classes, self.token)


def _model_names(comfy: ComfyModules) -> set[str]:
    fp = comfy.folder_paths
    names: set[str] = set()
    for folder in list(fp.folder_names_and_paths):
        if folder != "custom_nodes":
            names.update(fp.get_filename_list(folder))
    return names
