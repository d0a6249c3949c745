"""Random-weight models built on the machine itself (no downloads), for scripts/gpu_smoke.py --random-weights.

* SDXL (``full``): ComfyUI's own SDXL classes, as the pinned ComfyUI defines them: ``supported_models.SDXL`` ->
  ``model_base.SDXL`` (the 2.6 B-parameter UNet), ``sdxl_clip.SDXLClipModel`` (CLIP-L and OpenCLIP-G) and the
  SDXL/SD VAE (``AutoencoderKL``, ch 128, ch_mult 1-2-4-4), filled with variance-preserving random weights and
  saved through ComfyUI's own ``state_dict_for_saving`` in the layout of ``sd_xl_base_1.0.safetensors``.
  ComfyUI loads it with CheckpointLoaderSimple exactly as it loads the real file (same shapes, same dtypes, same
  compute); only the pictures are noise.
* SDXL (``tiny``): ComfyUI pins SDXL's widths, so no small SDXL can be detected; tiny scale uses the tests'
  SD3-family checkpoint (tests/support/tiny_checkpoint.py), which the same production graph runs unchanged.
* LivePortrait: the five networks (mimic-head's modules, the code the KJ pack vendors) at the sizes of the KJ
  pack's ``liveportrait/config/models.yaml`` (``full``) or the tests' shrunken sizes (``tiny``), saved under
  ``models/liveportrait/`` with the KJ pack's file names and key layout, so its loader node reads them.

Needs ComfyUI importable (the worker's engine puts it on sys.path) and, for LivePortrait, mimic-head.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import torch

Scale = Literal["full", "tiny"]
SDXL_NAME = "random_sdxl.safetensors"
TINY_NAME = "random_tiny_sd3.safetensors"

# ComfyUI 0.3.75 comfy/model_detection.py, unet_config_from_diffusers_unet: its SDXL entry (dtype set at build).
SDXL_UNET = {
    "use_checkpoint": False,
    "image_size": 32,
    "out_channels": 4,
    "use_spatial_transformer": True,
    "legacy": False,
    "num_classes": "sequential",
    "adm_in_channels": 2816,
    "in_channels": 4,
    "model_channels": 320,
    "num_res_blocks": [2, 2, 2],
    "transformer_depth": [0, 0, 2, 2, 10, 10],
    "channel_mult": [1, 2, 4],
    "transformer_depth_middle": 10,
    "use_linear_in_transformer": True,
    "context_dim": 2048,
    "num_head_channels": 64,
    "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10],
    "use_temporal_attention": False,
    "use_temporal_resblock": False,
}
# comfy/sd.py VAE: the default SD1.x/SD2.x/SDXL AutoencoderKL parameters.
SDXL_VAE = {
    "double_z": True,
    "z_channels": 4,
    "resolution": 256,
    "in_channels": 3,
    "out_ch": 3,
    "ch": 128,
    "ch_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_resolutions": [],
    "dropout": 0.0,
}

# The KJ pack's liveportrait/config/models.yaml (pinned commit 4d9dc62), and the tests' shrunken sizes.
LP_FULL: dict[str, dict[str, Any]] = {
    "appearance_feature_extractor": dict(
        image_channel=3,
        block_expansion=64,
        num_down_blocks=2,
        max_features=512,
        reshape_channel=32,
        reshape_depth=16,
        num_resblocks=6,
    ),
    "motion_extractor": dict(num_kp=21, backbone="convnextv2_tiny"),
    "warping_module": dict(
        num_kp=21,
        block_expansion=64,
        max_features=512,
        num_down_blocks=2,
        reshape_channel=32,
        estimate_occlusion_map=True,
        dense_motion_params=dict(block_expansion=32, max_features=1024, num_blocks=5, reshape_depth=16, compress=4),
    ),
    "spade_generator": dict(upscale=2, block_expansion=64, max_features=512, num_down_blocks=2),
}
LP_STITCHING = {  # the same at both scales; KJ's file keys: retarget_{shoulder,mouth,eye}_module.*
    "stitching": ("retarget_shoulder", dict(input_size=126, hidden_sizes=[128, 128, 64], output_size=65)),
    "lip": ("retarget_mouth", dict(input_size=65, hidden_sizes=[128, 128, 64], output_size=63)),
    "eye": ("retarget_eye", dict(input_size=66, hidden_sizes=[256, 256, 128, 128, 64], output_size=63)),
}
LP_INPUT = {"full": 256, "tiny": 64}


def random_init_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Variance-preserving random weights: ComfyUI's ops skip weight init, so its modules start as garbage.

    Matrices and kernels ~ N(0, 1/fan_in); 1-D weights and scales 1, biases 0 (zeros decode to black images)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.dim() >= 2:
                torch.nn.init.normal_(param, std=math.prod(param.shape[1:]) ** -0.5)
            elif name.endswith("bias"):
                param.zero_()
            else:
                param.fill_(1.0)
    return module


def sdxl_parts(device: str | torch.device, dtype: torch.dtype) -> tuple[Any, torch.nn.Module, torch.nn.Module]:
    """ComfyUI's SDXL model (model_base.SDXL), its text encoders and its VAE, weights NOT initialised."""
    from comfy import model_base, sdxl_clip, supported_models
    from comfy.ldm.models.autoencoder import AutoencoderKL

    config = supported_models.SDXL({**SDXL_UNET, "dtype": dtype})
    config.set_inference_dtype(dtype, None)
    model = model_base.SDXL(config, device=device)
    clip = sdxl_clip.SDXLClipModel(device=device, dtype=dtype)
    vae = AutoencoderKL(ddconfig=SDXL_VAE, embed_dim=4).to(device=device, dtype=dtype)
    return model, clip, vae


def sdxl_state_dict(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float16) -> dict[str, Any]:
    """One checkpoint's tensors, named as in sd_xl_base_1.0 (``device="meta"`` gives shapes without memory)."""
    model, clip, vae = sdxl_parts(device, dtype)
    if str(device) != "meta":
        for index, part in enumerate((model.diffusion_model, clip, vae)):
            random_init_(part, seed=index)
    sd: dict[str, Any] = model.state_dict_for_saving(clip.state_dict(), vae.state_dict())
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in sd.items()}


def write_sdxl_checkpoint(path: Path, device: str | torch.device) -> Path:
    import comfy.utils

    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.contiguous().cpu() for k, v in sdxl_state_dict(device, torch.float16).items()}  # 7 GB of host RAM
    comfy.utils.save_torch_file(sd, str(path))
    return path


def _lp_sizes(scale: Scale) -> dict[str, dict[str, Any]]:
    if scale == "full":
        return LP_FULL
    from tests.liveportrait import tiny_liveportrait as tiny

    return {
        "appearance_feature_extractor": tiny._F,
        "motion_extractor": dict(num_kp=21, backbone="convnextv2_tiny"),
        "warping_module": tiny._W,
        "spade_generator": tiny._G,
    }


def liveportrait_modules(scale: Scale) -> dict[str, torch.nn.Module]:
    """The four networks plus the three stitching/retargeting MLPs, weights as their constructors leave them."""
    from mimic_head.modules.appearance_feature_extractor import AppearanceFeatureExtractor
    from mimic_head.modules.motion_extractor import MotionExtractor
    from mimic_head.modules.spade_generator import SPADEDecoder
    from mimic_head.modules.stitching_retargeting_network import StitchingRetargetingNetwork
    from mimic_head.modules.warping_network import WarpingNetwork

    sizes = _lp_sizes(scale)
    classes = {
        "appearance_feature_extractor": AppearanceFeatureExtractor,
        "motion_extractor": MotionExtractor,
        "warping_module": WarpingNetwork,
        "spade_generator": SPADEDecoder,
    }
    modules: dict[str, torch.nn.Module] = {name: cls(**sizes[name]).eval() for name, cls in classes.items()}
    for key, (_prefix, config) in LP_STITCHING.items():
        modules[key] = StitchingRetargetingNetwork(**config).eval()
    return modules


def write_liveportrait(folder: Path, scale: Scale, seed: int = 0) -> dict[str, torch.nn.Module]:
    """The KJ pack's five files in ``folder`` (its models/liveportrait), random weights; returns the modules."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    modules = liveportrait_modules(scale)
    torch.manual_seed(seed)  # mimic-head's own (PyTorch default) init: keeps keypoints in a usable range
    head: Any = modules["motion_extractor"].detector
    with torch.no_grad():  # as the tests' tiny model: keypoints spread like a face's, scale about one
        head.fc_kp.bias.copy_(torch.rand(head.fc_kp.bias.shape) * 1.4 - 0.7)
        head.fc_scale.bias.fill_(1.3)
    stitching: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
        if name in LP_STITCHING:
            prefix = LP_STITCHING[name][0]
            stitching |= {f"{prefix}_module.{k}": v for k, v in tensors.items()}
        else:
            save_file(tensors, str(folder / f"{name}.safetensors"))
    save_file(stitching, str(folder / "stitching_retargeting_module.safetensors"))
    return modules


def load_liveportrait(folder: Path, scale: Scale, device: torch.device) -> dict[str, torch.nn.Module]:
    """Read the five files back the way the KJ loader does (strict load_state_dict), onto ``device``."""
    from safetensors.torch import load_file

    modules = liveportrait_modules(scale)
    stitching = load_file(str(folder / "stitching_retargeting_module.safetensors"))
    for name, module in modules.items():
        if name in LP_STITCHING:
            prefix = LP_STITCHING[name][0] + "_module."
            module.load_state_dict({k[len(prefix) :]: v for k, v in stitching.items() if k.startswith(prefix)})
        else:
            module.load_state_dict(load_file(str(folder / f"{name}.safetensors")))
        module.to(device)
    return modules


def build(models: Path, scale: Scale, device: str) -> dict[str, str]:
    """Every file a --random-weights run needs under ``models``; returns what was written."""
    if scale == "full":
        checkpoint = write_sdxl_checkpoint(models / "checkpoints" / SDXL_NAME, device)
    else:
        from tests.support.tiny_checkpoint import write_tiny_checkpoint

        checkpoint = write_tiny_checkpoint(models / "checkpoints" / TINY_NAME)
    write_liveportrait(models / "liveportrait", scale)
    return {"checkpoint": checkpoint.name, "liveportrait": str(models / "liveportrait")}


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.random_weights MODELS_DIR --scale full --device cuda``: build in a child process,
    so the GPU memory used while building is gone before the worker under test starts."""
    import argparse
    import json
    import os
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("models", type=Path)
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    repo = Path(__file__).resolve().parent.parent
    comfyui = Path(os.environ.get("COMFYUI_PATH", repo / ".comfyui")).resolve()
    sys.path[:0] = [str(repo), str(comfyui)]
    from comfy.cli_args import args as comfy_args

    comfy_args.cpu = args.device == "cpu"
    print(json.dumps(build(args.models, args.scale, args.device)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
