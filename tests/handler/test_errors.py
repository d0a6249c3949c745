"""Every kind of bad workflow ends with its own error code, and the next job still succeeds."""

from __future__ import annotations

from typing import Any

import pytest

from tests.handler import graphs
from tests.handler.helpers import failed, ok, run_job


def _with(graph: dict[str, Any], node: str, **inputs: Any) -> dict[str, Any]:
    graph[node]["inputs"].update(inputs)
    return graph


BAD_WORKFLOWS = {
    "unknown node": ({"1": {"class_type": "NoSuchNode", "inputs": {}}}, "WORKFLOW_INVALID", "NoSuchNode"),
    "bad link": (_with(graphs.empty_image(), "2", images=["99", 0]), "WORKFLOW_INVALID", "'99'"),
    "wrong type": (
        {
            **graphs.empty_image(),
            "3": {"class_type": "VAEDecode", "inputs": {"samples": ["1", 0], "vae": ["1", 0]}},
            "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}},
        },
        "WORKFLOW_INVALID",
        "mismatch input_type(VAE)",
    ),
    "out of range": (_with(graphs.empty_image(), "1", width=0), "WORKFLOW_INVALID", "width"),
    "missing input": (
        {
            "1": {"class_type": "EmptyImage", "inputs": {"width": 8}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
        },
        "WORKFLOW_INVALID",
        "required_input_missing",
    ),
    "no outputs": (
        {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}}},
        "WORKFLOW_INVALID",
        "output",
    ),
    "no class_type": ({"1": {"inputs": {}}}, "WORKFLOW_INVALID", "class_type"),
    "inputs not an object": ({"1": {"class_type": "EmptyImage", "inputs": [1, 2]}}, "WORKFLOW_INVALID", "inputs"),
    "ui format": ({"nodes": [], "links": [], "version": 0.4}, "INVALID_INPUT", "API"),
    # One error for every file name the job did not stage (tests/security/test_fs_sandbox.py has the rest).
    "missing image file": (graphs.load_image("not-uploaded.png"), "INVALID_INPUT", "input.images"),
}


@pytest.mark.parametrize("case", list(BAD_WORKFLOWS))
async def test_bad_workflow_gets_its_code_and_next_job_runs(worker: Any, case: str) -> None:
    workflow, code, mentions = BAD_WORKFLOWS[case]
    assert mentions, "every case names what its error must mention (an empty string is in every message)"
    error = failed(await run_job(worker, {"workflow": workflow}))
    assert error.code == code, error
    assert mentions in error.message or mentions in str(error.details)
    assert error.retryable is False
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))


async def test_validation_error_names_the_node_and_input(worker: Any) -> None:
    error = failed(await run_job(worker, {"workflow": _with(graphs.empty_image(), "1", width=100_000)}))
    node = error.details["node_errors"]["1"]
    assert node["class_type"] == "EmptyImage"
    assert node["errors"][0]["type"] == "value_bigger_than_max"
    assert node["errors"][0]["input_name"] == "width"


@pytest.mark.parametrize(
    "job_input, field",
    [
        ({}, "input"),
        ({"workflow": graphs.empty_image(), "preset": "sdxl"}, "input"),
        ({"workflow": "not a graph"}, "workflow"),
        ({"workflow": graphs.empty_image(), "surprise": 1}, "surprise"),
        ({"workflow": graphs.empty_image(), "images": [{"name": "a.png"}]}, "images.0.image"),
        ({"preset": "no-such-preset", "params": {}}, "preset"),
    ],
)
async def test_malformed_input_is_invalid_input_naming_the_field(worker: Any, job_input: Any, field: str) -> None:
    error = failed(await run_job(worker, job_input))
    assert error.code == "INVALID_INPUT"
    assert error.details.get("field") == field


async def test_input_that_is_not_an_object(worker: Any) -> None:
    error = failed(dict(await worker.handle({"id": "x", "input": ["a"]})))
    assert error.code == "INVALID_INPUT"


class RaiseValueError:
    """A node whose code raises, registered the way ComfyUI registers any custom node class."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, image: Any) -> Any:
        raise ValueError("this node always fails")


async def test_node_that_raises_is_node_failed(worker: Any) -> None:
    worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS["RaiseValueError"] = RaiseValueError
    graph = graphs.empty_image()
    graph["3"] = {"class_type": "RaiseValueError", "inputs": {"image": ["1", 0]}}
    graph["2"]["inputs"]["images"] = ["3", 0]
    error = failed(await run_job(worker, {"workflow": graph}))
    assert error.code == "NODE_FAILED"
    assert error.details["node_id"] == "3"
    assert error.details["node_type"] == "RaiseValueError"
    assert error.details["exception_type"].endswith("ValueError")
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))


async def test_out_of_memory_frees_models_and_asks_for_a_fresh_worker(
    worker: Any, oom_node: str, tiny_checkpoint: str
) -> None:
    ok(await run_job(worker, {"workflow": graphs.sampler(tiny_checkpoint, seed=3, steps=1)}))
    assert worker.engine.comfy.model_management.current_loaded_models, "a model is loaded"
    graph = graphs.empty_image()
    graph["3"] = {"class_type": oom_node, "inputs": {"image": ["1", 0]}}
    graph["2"]["inputs"]["images"] = ["3", 0]
    result = await run_job(worker, {"workflow": graph})
    assert result.get("refresh_worker") is True
    error = failed(result)
    assert (error.code, error.retryable) == ("OUT_OF_MEMORY", True)
    assert not worker.engine.comfy.model_management.current_loaded_models, "models were unloaded"
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))
