"""Fixtures for running presets through the real worker with a tiny checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CACHE

WIDE_CHECKPOINT = "tiny_sd3_wide.safetensors"
# Patches per side the production sizes need: 1536 px / 8 (VAE) / 2 (patch) = 96.
WIDE_POS_EMBED = 96


def _write_wide(source: Path, target: Path) -> Path:
    """The shared tiny checkpoint with a position table wide enough for every SDXL bucket size.

    The shared one stops at 512 px (32 patches a side), and MMDiT refuses larger latents, so the preset's real
    sizes need a bigger table; everything else (text encoder, VAE, blocks) is the same file's tensors.
    """
    import torch
    from safetensors.torch import load_file, save_file

    if target.is_file():
        return target
    tensors = load_file(str(source))
    key = "model.diffusion_model.pos_embed"
    hidden = tensors[key].shape[-1]
    generator = torch.Generator().manual_seed(4)
    tensors[key] = (
        torch.randn((1, WIDE_POS_EMBED**2, hidden), generator=generator) * (WIDE_POS_EMBED**2 * hidden) ** -0.5
    )
    partial = target.with_suffix(".partial")
    save_file(tensors, str(partial))
    partial.rename(target)
    return target


@pytest.fixture(scope="session")
def wide_checkpoint(tiny_checkpoint: str, models_dir: Path) -> str:
    source = (models_dir / "checkpoints" / tiny_checkpoint).resolve()
    cached = _write_wide(source, CACHE / "tiny-sd3-wide-v1.safetensors")
    link = models_dir / "checkpoints" / WIDE_CHECKPOINT
    if not link.exists():
        link.symlink_to(cached)
    return WIDE_CHECKPOINT


@pytest.fixture
def sdxl_worker(worker: Any, wide_checkpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The session's worker configured, for one test, as in production but with the wide tiny checkpoint."""
    monkeypatch.setattr(worker.settings, "sdxl_checkpoint", wide_checkpoint)
    return worker
