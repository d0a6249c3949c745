"""Fixtures: a random-weight LivePortrait and the CROPINFO of a real photo's face."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import skimage.data
import torch

from tests.liveportrait.tiny_liveportrait import crop_face, tiny_pipeline

ASTRONAUT_FACE = (177.0, 82.0, 272.0, 177.0)  # x0, y0, x1, y1: where MediaPipe finds the face in astronaut()


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine, 2 spinning OpenMP threads made these tests ~8x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def pipeline() -> SimpleNamespace:
    return tiny_pipeline(seed=0)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut())


@pytest.fixture(scope="session")
def crop_info(pipeline: SimpleNamespace, astronaut: np.ndarray) -> dict[str, Any]:
    return crop_face(pipeline, astronaut, ASTRONAUT_FACE)[1]
