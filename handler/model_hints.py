"""How to install a model file a job found missing: the fetch command for files in comfy_image/models.json,
otherwise the folder it belongs in. Paths are the network volume's (/runpod-volume/models, docs/deploy.md)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent.parent / "comfy_image" / "models.json"
VOLUME_MODELS = "/runpod-volume/models"
# ComfyUI loader inputs (suffix) -> the models folder ComfyUI reads them from.
FOLDERS = {
    "ckpt_name": "checkpoints",
    "vae_name": "vae",
    "lora_name": "loras",
    "unet_name": "unet",
    "clip_name": "clip",
    "control_net_name": "controlnet",
    "style_model_name": "style_models",
    "upscale_model": "upscale_models",
    "model_name": "upscale_models",
}


@cache
def _manifest() -> dict[str, tuple[str, str, bool]]:
    """filename -> (entry name, folder, verified); empty when the manifest is not shipped."""
    try:
        models = json.loads(MANIFEST.read_text())["models"]
    except (OSError, ValueError, KeyError):
        return {}
    return {m["filename"]: (m["name"], m["folder"], m.get("sha256") is not None) for m in models}


def install_hint(input_name: str, filename: str) -> str:
    known = _manifest().get(filename)
    if known is not None:
        name, folder, verified = known
        flag = "" if verified else " --allow-unverified"
        return (
            f"python -m comfy_image.fetch_models --dest {VOLUME_MODELS} --only {name}{flag} "
            f"(writes {VOLUME_MODELS}/{folder}/{filename})"
        )
    folder = next((f for suffix, f in FOLDERS.items() if input_name.endswith(suffix)), "<its ComfyUI model folder>")
    return f"copy it to {VOLUME_MODELS}/{folder}/{filename} on the network volume (or MODELS_DIR/{folder}/ locally)"
