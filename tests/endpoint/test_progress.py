"""Progress of a real sampler run shows as the job's ``output`` while it is IN_PROGRESS."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from bot.runpod_client import JobState, JobStatus, Progress, RunPodClient
from workflows.contract import ErrorCode


def sampler_job(checkpoint: str, steps: int) -> dict[str, Any]:
    """The text-to-image graph on the tiny random checkpoint (tests/support/tiny_checkpoint.py)."""
    return {
        "workflow": {
            "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
            "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox", "clip": ["1", 1]}},
            "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
            "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
            "5": {
                "class_type": "KSampler",
                "inputs": {
                    "model": ["1", 0],
                    "positive": ["2", 0],
                    "negative": ["3", 0],
                    "latent_image": ["4", 0],
                    "seed": random.randrange(1 << 31),
                    "steps": steps,
                    "cfg": 4.0,
                    "sampler_name": "euler",
                    "scheduler": "normal",
                    "denoise": 1.0,
                },
            },
            "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
            "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "fox"}},
        }
    }


@pytest.mark.slow
async def test_progress_is_visible_while_the_sampler_runs(local_client: RunPodClient, tiny_checkpoint: str) -> None:
    job = await local_client.run(sampler_job(tiny_checkpoint, steps=5000))
    seen: list[Progress] = []

    async with asyncio.timeout(120):
        while len({update.step for update in seen}) < 3:
            status = await local_client.status(job.id)
            assert not status.is_terminal, status
            if (update := status.progress()) is not None:
                seen.append(update)
            await asyncio.sleep(0.05)
    await local_client.cancel(job.id)

    last = seen[-1]
    assert last.node_type == "KSampler" and last.max == 5000 and 0 < last.percent < 100
    assert [u.step for u in seen] == sorted(u.step for u in seen)
    final: JobStatus = await local_client.status(job.id)
    info = final.error_info()
    assert final.status is JobState.CANCELLED and info is not None and info.code is ErrorCode.CANCELLED


async def test_the_sampler_job_completes_with_an_image(local_client: RunPodClient, tiny_checkpoint: str) -> None:
    final = await local_client.wait((await local_client.run(sampler_job(tiny_checkpoint, steps=4))).id, deadline_s=120)

    output = final.job_output()
    assert final.status is JobState.COMPLETED and output is not None
    assert output.outputs[0].content_type == "image/png"
