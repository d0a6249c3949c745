"""Fixtures for running presets through the real worker with a tiny checkpoint."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def sdxl_worker(worker: Any, tiny_checkpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The session's worker configured, for one test, as in production but with the tiny checkpoint.

    The tiny MMDiT's position table covers 96 patches a side (1536 px), so every SDXL bucket size runs.
    """
    monkeypatch.setattr(worker.settings, "sdxl_checkpoint", tiny_checkpoint)
    return worker
