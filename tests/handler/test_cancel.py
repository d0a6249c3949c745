"""Cancel and timeout interrupt ComfyUI within a sampler step; the worker runs the next job normally."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.handler import graphs
from tests.handler.helpers import failed, ok, run_job

LONG_STEPS = 2000  # minutes of sampling on a CPU: only an interrupt ends it early


async def _wait_for_steps(sink: Any, job_id: str, steps: int = 2) -> int:
    for _ in range(3000):
        events = [e for e in sink.for_job(job_id) if e["node_type"] == "KSampler"]
        if len(events) >= steps:
            return int(events[-1]["step"])
        await asyncio.sleep(0.01)
    raise AssertionError("the sampler never reported progress")


def _long_job(ckpt: str, seed: int) -> dict[str, Any]:
    return {"workflow": graphs.sampler(ckpt, seed=seed, steps=LONG_STEPS, size=128)}


async def test_cancel_stops_sampling_within_a_step(worker: Any, tiny_checkpoint: str, progress_sink: Any) -> None:
    job = asyncio.create_task(run_job(worker, _long_job(tiny_checkpoint, 11), job_id="cancel-1"))
    step_at_cancel = await _wait_for_steps(progress_sink, "cancel-1")
    worker.cancel("cancel-1")
    error = failed(await job)
    assert error.code == "CANCELLED"
    steps = [e["step"] for e in progress_sink.for_job("cancel-1") if e["node_type"] == "KSampler"]
    assert max(steps) <= step_at_cancel + 1, "ComfyUI stopped within one sampler step"
    assert max(steps) < LONG_STEPS
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))


async def test_platform_cancel_interrupts_and_worker_stays_healthy(
    worker: Any, tiny_checkpoint: str, progress_sink: Any
) -> None:
    # RunPod's stop channel cancels the handler's asyncio task.
    job = asyncio.create_task(run_job(worker, _long_job(tiny_checkpoint, 12), job_id="cancel-2"))
    await _wait_for_steps(progress_sink, "cancel-2")
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    out = ok(await run_job(worker, {"workflow": graphs.sampler(tiny_checkpoint, seed=5, steps=2)}))
    assert out.outputs[0].kind == "image"


async def test_timeout_ends_job_as_timeout(worker: Any, tiny_checkpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.settings, "job_timeout_s", 1.5)
    error = failed(await run_job(worker, _long_job(tiny_checkpoint, 13)))
    assert error.code == "TIMEOUT"
    assert error.retryable is True
    monkeypatch.undo()
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))


async def test_cancel_that_arrives_before_execution(worker: Any) -> None:
    worker.cancel("early-1")
    error = failed(await run_job(worker, {"workflow": graphs.empty_image()}, job_id="early-1"))
    assert error.code == "CANCELLED"
    ok(await run_job(worker, {"workflow": graphs.empty_image()}, job_id="early-1"))


async def test_a_node_that_ignores_the_interrupt_asks_for_a_fresh_worker(
    worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One large blur: a single node with no interrupt point, far longer than the timeout plus the grace.
    blur = graphs.empty_image(2048, 2048)
    blur["3"] = {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 31, "sigma": 3.0}}
    blur["2"]["inputs"]["images"] = ["3", 0]
    monkeypatch.setattr(worker.settings, "job_timeout_s", 0.2)
    monkeypatch.setattr(worker.settings, "interrupt_grace_s", 0.01)
    result = await run_job(worker, {"workflow": blur})
    assert result.get("refresh_worker") is True
    error = failed(result)
    assert (error.code, error.details.get("stuck")) == ("TIMEOUT", True)
    monkeypatch.undo()
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))  # runs once the blur has finished
