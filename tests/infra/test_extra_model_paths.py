"""comfy_image/extra_model_paths.yaml loaded by ComfyUI's own loader (in a child process: it sets globals)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from handler.settings import REPO_ROOT

YAML = REPO_ROOT / "comfy_image" / "extra_model_paths.yaml"

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import folder_paths
from utils.extra_config import load_extra_path_config
load_extra_path_config(sys.argv[2])
kinds = ["checkpoints", "vae", "loras", "upscale_models", "text_encoders", "diffusion_models", "liveportrait"]
print(json.dumps({
    "paths": {kind: folder_paths.get_folder_paths(kind) for kind in kinds},
    "checkpoints": folder_paths.get_filename_list("checkpoints"),
    "liveportrait": folder_paths.get_filename_list("liveportrait"),
}))
"""


def load(python: str, comfyui: Path, yaml_path: Path) -> dict[str, object]:
    result = subprocess.run(
        [python, "-c", PROBE, str(comfyui), str(yaml_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_network_volume_folders_are_registered(python: str, comfyui_path: Path) -> None:
    data = load(python, comfyui_path, YAML)
    paths = data["paths"]
    assert isinstance(paths, dict)
    assert "/runpod-volume/models/checkpoints" in paths["checkpoints"]
    assert "/runpod-volume/models/vae" in paths["vae"]
    assert "/runpod-volume/models/loras" in paths["loras"]
    assert "/runpod-volume/models/upscale_models" in paths["upscale_models"]
    assert {"/runpod-volume/models/clip", "/runpod-volume/models/text_encoders"} <= set(paths["text_encoders"])
    assert "/runpod-volume/models/unet" in paths["diffusion_models"]
    assert paths["liveportrait"] == ["/runpod-volume/models/liveportrait"]
    # Baked weights (ComfyUI's own models/) stay first.
    assert paths["checkpoints"][0].startswith(str(comfyui_path.resolve()))


def test_files_on_the_volume_are_found(python: str, comfyui_path: Path, tmp_path: Path) -> None:
    volume = tmp_path / "runpod-volume" / "models"
    (volume / "checkpoints").mkdir(parents=True)
    (volume / "checkpoints" / "sd_xl_base_1.0.safetensors").write_bytes(b"x")
    (volume / "liveportrait").mkdir()
    (volume / "liveportrait" / "landmark.onnx").write_bytes(b"x")
    moved = tmp_path / "extra_model_paths.yaml"
    moved.write_text(YAML.read_text().replace("/runpod-volume/models", str(volume)))

    data = load(python, comfyui_path, moved)

    assert "sd_xl_base_1.0.safetensors" in data["checkpoints"]  # type: ignore[operator]
    assert data["liveportrait"] == ["landmark.onnx"]
