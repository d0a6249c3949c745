"""The engine's current run belongs to the run that set it: a stuck run ending late does not orphan the next."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.handler import graphs
from tests.handler.helpers import failed, ok, run_job


def _stuck_blur() -> dict[str, Any]:
    # One large blur: a single node with no interrupt point, far longer than the timeout plus the grace.
    blur = graphs.empty_image(2048, 2048)
    blur["3"] = {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 31, "sigma": 3.0}}
    blur["2"]["inputs"]["images"] = ["3", 0]
    return blur


@pytest.mark.slow
async def test_after_a_stuck_job_the_next_job_reports_progress_and_can_be_cancelled(
    worker: Any, tiny_checkpoint: str, progress_sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker.settings, "job_timeout_s", 0.2)
    monkeypatch.setattr(worker.settings, "interrupt_grace_s", 0.01)
    stuck = await run_job(worker, {"workflow": _stuck_blur()}, job_id="stuck-1")
    assert failed(stuck).details.get("stuck") is True
    monkeypatch.undo()

    # Queued behind the blur still running on the engine thread; it starts once the blur ends.
    slow = {"workflow": graphs.sampler(tiny_checkpoint, seed=21, steps=2000, size=128)}
    task = asyncio.create_task(run_job(worker, slow, job_id="after-stuck"))
    for _ in range(30000):
        if any(e["node_type"] == "KSampler" for e in progress_sink.for_job("after-stuck")):
            break
        await asyncio.sleep(0.01)
    else:
        task.cancel()
        raise AssertionError("the job after the stuck one never reported progress")
    worker.cancel("after-stuck")
    error = failed(await asyncio.wait_for(task, timeout=120))
    assert error.code == "CANCELLED"
    ok(await run_job(worker, {"workflow": graphs.empty_image()}))
