"""A tiny random-weight checkpoint the production SDXL graph can run unchanged on a CPU.

ComfyUI's UNet families (SD1/SDXL) pin their widths, so no tiny SDXL can be detected; the SD3 (MMDiT) family
derives every size from the tensors. One file carries a depth-2 MMDiT (``model.diffusion_model.*``), a 16-channel
TAESD as VAE (``first_stage_model.*``) and a random CLIP-L (``text_encoders.clip_l.*``), so
CheckpointLoaderSimple -> CLIPTextEncode -> KSampler -> VAEDecode runs the real sampler path.
Needs ComfyUI on sys.path (the engine puts it there when it boots).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch


def _init_(tensors: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Variance-preserving random init: ComfyUI skips weight init, and zeros or garbage decode to black."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, tensor in tensors.items():
        if tensor.dim() <= 1:
            # norms' weights and scalar scales (TAESD's vae_scale) start at one, biases and shifts at zero
            ones = name.endswith(("weight", "scale"))
            value = torch.ones_like(tensor) if ones else torch.zeros_like(tensor)
        else:
            fan_in = math.prod(tensor.shape[1:])
            value = torch.randn(tensor.shape, generator=generator) * fan_in**-0.5
        out[name] = value.to(torch.float32).contiguous()
    return out


def _mmdit() -> dict[str, torch.Tensor]:
    from comfy.ldm.modules.diffusionmodules.mmdit import OpenAISignatureMMDITWrapper

    model = OpenAISignatureMMDITWrapper(
        patch_size=2,
        in_channels=16,
        out_channels=16,
        depth=2,
        adm_in_channels=2048,
        pos_embed_max_size=96,  # 96 patches a side: every SDXL bucket size (1536 px)
        context_embedder_config={"target": "torch.nn.Linear", "params": {"in_features": 4096, "out_features": 128}},
        num_patches=96 * 96,
        dtype=torch.float32,
        device="cpu",
        operations=__import__("comfy.ops", fromlist=["manual_cast"]).manual_cast,
    )
    return {f"model.diffusion_model.{k}": v for k, v in _init_(model.state_dict(), 1).items()}


def _taesd() -> dict[str, torch.Tensor]:
    from comfy.taesd.taesd import TAESD

    return {f"first_stage_model.{k}": v for k, v in _init_(TAESD(latent_channels=16).state_dict(), 2).items()}


def _clip_l() -> dict[str, torch.Tensor]:
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    torch.manual_seed(3)
    config = CLIPTextConfig(
        hidden_size=768,
        intermediate_size=3072,
        num_attention_heads=12,
        num_hidden_layers=12,
        projection_dim=768,
        hidden_act="quick_gelu",
    )  # CLIP-L: ComfyUI fixes its shape
    model = CLIPTextModelWithProjection(config)
    prefix = "text_encoders.clip_l.transformer."
    tensors = {prefix + k: v.to(torch.float16) for k, v in model.state_dict().items() if "position_ids" not in k}
    tensors["text_encoders.clip_l.logit_scale"] = torch.tensor(4.6052, dtype=torch.float16)
    return tensors


def write_tiny_checkpoint(path: Path) -> Path:
    """Write the checkpoint (about 265 MB, a few seconds) unless it already exists."""
    from safetensors.torch import save_file

    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {**_mmdit(), **_taesd(), **_clip_l()}
    partial = path.with_suffix(".partial")
    save_file(tensors, str(partial))
    partial.rename(path)
    return path
