"""Turn a job's input into the graph the engine runs: stage images (output names are scoped by handler.sandbox)."""

from __future__ import annotations

import copy
from typing import Any

from handler.errors import ErrorCode, JobError
from handler.files import JobFiles
from handler.images import DownloadBudget, download_budget, load_image
from handler.prepared import PreparedJob
from handler.presets import prepare_preset
from handler.schema import JobInput
from handler.settings import WorkerSettings

MAX_NODES = 1000


def check_graph(workflow: dict[str, Any]) -> None:
    """Reject what is not an API-format graph, with a message that says how to get one."""
    if "nodes" in workflow and "links" in workflow:
        raise JobError(
            ErrorCode.INVALID_INPUT,
            "This is a UI-format workflow; export it with 'Save (API Format)'.",
            field="workflow",
        )
    if not workflow:
        raise JobError(ErrorCode.INVALID_INPUT, "The workflow has no nodes.", field="workflow")
    if len(workflow) > MAX_NODES:
        raise JobError(ErrorCode.INVALID_INPUT, f"The workflow has more than {MAX_NODES} nodes.", field="workflow")
    for node_id, node in workflow.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            raise JobError(ErrorCode.WORKFLOW_INVALID, f"Node {node_id!r} has no class_type.", node_id=node_id)
        if not isinstance(node.get("inputs", {}), dict):
            raise JobError(
                ErrorCode.WORKFLOW_INVALID, f"Node {node_id!r} has inputs that are not an object.", node_id=node_id
            )


def _rename_values(graph: dict[str, Any], names: dict[str, str]) -> None:
    for node in graph.values():
        inputs = node.setdefault("inputs", {})
        for key, value in inputs.items():
            if isinstance(value, str) and value in names:
                inputs[key] = names[value]


def prepare(
    job_input: JobInput, files: JobFiles, settings: WorkerSettings, downloads: DownloadBudget | None = None
) -> PreparedJob:
    """Stage the job's images (URL downloads within ``downloads``) and build its graph."""
    download_budget.set(downloads)  # this runs in its own thread (and context): no reset needed
    if job_input.preset is not None:
        prepared = prepare_preset(job_input.preset, job_input.params or {}, files, settings)
    else:
        assert job_input.workflow is not None
        check_graph(job_input.workflow)
        prepared = PreparedJob(prompt=copy.deepcopy(job_input.workflow))
    names: dict[str, str] = {}
    for item in job_input.images:
        staged = files.stage_image(item.name, load_image(item.image, settings))
        names.update(files.stage_alias(item.name, staged))
    _rename_values(prepared.prompt, names)
    return prepared
