"""Operators restrict the node classes raw workflows may use (NODE_ALLOW / NODE_DENY); presets always run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.handler import graphs
from tests.handler.helpers import failed, ok, run_job


def _inverted() -> dict[str, Any]:
    graph = graphs.empty_image(8, 8)
    graph["3"] = {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}}
    graph["2"]["inputs"]["images"] = ["3", 0]
    return graph


async def test_a_denied_class_is_refused_naming_it_and_the_setting(
    worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker.settings, "node_deny", ["ImageInvert"])
    error = failed(await run_job(worker, {"workflow": _inverted()}))
    assert error.code == "WORKFLOW_INVALID"
    assert (error.details["class_type"], error.details["setting"], error.details["node_id"]) == (
        "ImageInvert",
        "NODE_DENY",
        "3",
    )
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))


async def test_only_allowed_classes_run(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.settings, "node_allow", ["EmptyImage", "SaveImage", "PrimitiveString"])
    error = failed(await run_job(worker, {"workflow": _inverted()}))
    assert (error.code, error.details["setting"]) == ("WORKFLOW_INVALID", "NODE_ALLOW")
    assert "ImageInvert" in error.message
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))
    # The worker's own prefix guard is inserted after the policy check: it never needs allowing.
    linked = graphs.empty_image(8, 8)
    linked["9"] = {"class_type": "PrimitiveString", "inputs": {"value": "named"}}
    linked["2"]["inputs"]["filename_prefix"] = ["9", 0]
    ok(await run_job(worker, {"workflow": linked}))


async def test_deny_wins_over_allow(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.settings, "node_allow", ["EmptyImage", "SaveImage"])
    monkeypatch.setattr(worker.settings, "node_deny", ["SaveImage"])
    error = failed(await run_job(worker, {"workflow": graphs.empty_image()}))
    assert (error.details["class_type"], error.details["setting"]) == ("SaveImage", "NODE_DENY")


async def test_presets_are_not_subject_to_the_policy(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.settings, "node_allow", [])
    monkeypatch.setattr(worker.settings, "node_deny", ["CheckpointLoaderSimple", "KSampler", "SaveImage"])
    assert failed(await run_job(worker, {"workflow": graphs.empty_image()})).code == "WORKFLOW_INVALID"
    # The sdxl preset gets past the policy to ComfyUI's own validation (its checkpoint is not installed here).
    error = failed(await run_job(worker, {"preset": "sdxl", "params": {"prompt": "a fox"}}))
    assert error.code == "MODEL_MISSING"


def test_the_lists_are_read_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from handler.settings import WorkerSettings

    monkeypatch.setenv("NODE_ALLOW", '["EmptyImage", "SaveImage"]')
    monkeypatch.setenv("NODE_DENY", '["LoadImage"]')
    settings = WorkerSettings()
    assert (settings.node_allow, settings.node_deny) == (["EmptyImage", "SaveImage"], ["LoadImage"])


async def test_the_operators_warm_up_is_not_subject_to_the_policy(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.settings, "node_allow", [])
    job = {"id": "warmup", "input": {"workflow": graphs.empty_image()}}
    ok(dict(await worker.handle(job, report=False, trusted=True)))
    assert failed(dict(await worker.handle(job))).code == "WORKFLOW_INVALID"
