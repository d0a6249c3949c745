"""scripts/gpu_smoke.py on this CPU machine: real Worker, real ComfyUI; --random-weights at tiny scale, and the
full-scale random models checked by shape (SDXL on the meta device) and file size (LivePortrait)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from handler.settings import REPO_ROOT

RAW_JOB = {
    "workflow": {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 255}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "smoke"}},
    },
    "delivery": "base64",
}


@pytest.mark.slow
def test_smoke_runs_jobs_saves_outputs_and_writes_a_summary(tmp_path: Path, comfyui_path: Path) -> None:
    job = tmp_path / "raw.json"
    job.write_text(json.dumps(RAW_JOB))
    out = tmp_path / "out"
    env = {
        **os.environ,
        "COMFYUI_PATH": str(comfyui_path),
        "DEVICE": "cpu",
        "WORK_DIR": str(tmp_path / "work"),
        "WARMUP": "empty",
        "S3_BUCKET": "",
        "LOG_JSON": "false",
    }
    env.pop("S3_BUCKET")
    command = [sys.executable, "scripts/gpu_smoke.py", "--no-sdxl", "--job", str(job), "--allow-cpu", "--out", str(out)]

    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)

    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cold_start_s"] > 0 and summary["warmup"] == "empty"
    assert [(r["job"], r["run"]) for r in summary["jobs"]] == [("raw", 1), ("raw", 2)]
    for record in summary["jobs"]:
        assert "error" not in record
        saved = [Path(p) for p in record["saved"]]
        assert len(saved) == 1 and saved[0].read_bytes().startswith(b"\x89PNG")
    assert "raw" in summary["model_load_estimate_s"]


def test_without_a_gpu_it_refuses_unless_told(tmp_path: Path) -> None:
    command = [sys.executable, "scripts/gpu_smoke.py", "--no-sdxl", "--job", str(tmp_path / "none.json")]
    (tmp_path / "none.json").write_text(json.dumps(RAW_JOB))

    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode != 0
    assert "no CUDA device" in result.stderr


# --random-weights ----------------------------------------------------------------------------------------------

# The KJ pack's files on Hugging Face (Kijai/LivePortrait_safetensors), fp32, in MB: what full scale must match.
KJ_FILE_MB = {
    "appearance_feature_extractor": 3.4,
    "motion_extractor": 112.5,
    "warping_module": 182.2,
    "spade_generator": 221.8,
    "stitching_retargeting_module": 0.9,
}


@pytest.mark.slow
def test_random_weights_tiny_runs_both_presets_and_the_server_path(tmp_path: Path, comfyui_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "COMFYUI_PATH": str(comfyui_path), "DEVICE": "cpu", "WORK_DIR": str(tmp_path / "work")}
    env |= {"LOG_JSON": "false", "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("S3_BUCKET", None)
    command = [sys.executable, "scripts/gpu_smoke.py", "--random-weights", "--scale", "tiny", "--allow-cpu"]

    result = subprocess.run([*command, "--out", str(out)], cwd=REPO_ROOT, env=env, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["sdxl"]["size"], summary["sdxl"]["steps"]) == ("64x64", 25)  # the preset's own steps
    for run in summary["sdxl"]["runs"] + summary["liveportrait"]["runs"]:
        assert "error" not in run and run["output_bytes"] > 0
    assert summary["liveportrait"]["frames"] == 4 and summary["liveportrait"]["runs"][-1]["ms_per_frame"] > 0
    assert summary["cold_start_to_first_image_s"] > 0
    # Without the KJ pack here, the summary says which nodes ran as stand-ins.
    assert all(v.startswith("stand-in: KJ pack not installed") for v in summary["node_packs"].values())
    server = summary["server_path"]
    assert "runs" in server or "requirements/bench.txt" in server["skipped"]
    assert "| SDXL 64x64, 25 steps" in (out / "summary.md").read_text()


def test_full_scale_sdxl_is_what_comfyui_detects_as_sdxl(worker: Any) -> None:
    """Built from ComfyUI's own classes on the meta device (shapes only): detection, CLIP and VAE keys."""
    import comfy.model_detection

    from benchmarks.random_weights import sdxl_parts, sdxl_state_dict

    sd = sdxl_state_dict("meta")
    config = comfy.model_detection.model_config_from_unet(sd, "model.diffusion_model.")
    assert type(config).__name__ == "SDXL"
    counts: dict[str, int] = {}
    for key, tensor in sd.items():
        part = ".".join(key.split(".")[:3]) if key.startswith("conditioner.") else key.split(".")[0]
        part = {"model": "unet", "first_stage_model": "vae"}.get(part, part)
        counts[part] = counts.get(part, 0) + tensor.numel()
    # The parameter counts of SDXL base 1.0's parts (UNet, VAE, CLIP-L text model, OpenCLIP-G text model with
    # projection) as published for the diffusers release; the checkpoint adds CLIP-L's 77 position ids and
    # CLIP-G's logit scale.
    assert counts == {
        "unet": 2_567_463_684,
        "vae": 83_653_863,
        "conditioner.embedders.0": 123_060_480 + 77,
        "conditioner.embedders.1": 694_659_840 + 1,
    }
    _model, clip, vae = sdxl_parts("meta", None)
    clip_keys = set(config.process_clip_state_dict(sd))
    # sd_xl_base_1.0 lacks these two as well (SDXL's saver drops them; CLIP-L's projection is unused)
    assert set(clip.state_dict()) - clip_keys == {"clip_l.logit_scale", "clip_l.transformer.text_projection.weight"}
    vae_keys = {k.removeprefix("first_stage_model.") for k in sd if k.startswith("first_stage_model.")}
    assert vae_keys == set(vae.state_dict())


@pytest.mark.slow
def test_full_scale_liveportrait_files_have_the_real_files_sizes(tmp_path: Path) -> None:
    import torch

    from benchmarks.random_weights import load_liveportrait, write_liveportrait

    write_liveportrait(tmp_path, "full")
    sizes = {p.stem: p.stat().st_size / 1e6 for p in tmp_path.glob("*.safetensors")}
    assert sizes.keys() == KJ_FILE_MB.keys()
    for name, mb in KJ_FILE_MB.items():
        assert abs(sizes[name] - mb) / mb < 0.03, (name, sizes[name])
    modules = load_liveportrait(tmp_path, "full", torch.device("cpu"))  # strict load, the KJ loader's key layout
    # The stand-in wrapper over them crops a face into LivePortrait's real feature volume and keypoints.
    import numpy as np
    import skimage.data

    from benchmarks.kj_standins import RandomWrapper
    from tests.liveportrait.tiny_liveportrait import crop_face

    pipeline = SimpleNamespace(live_portrait_wrapper=RandomWrapper(modules, "full", torch.device("cpu")))
    photo = np.ascontiguousarray(skimage.data.astronaut())
    crop, info = crop_face(pipeline, photo, (177.0, 82.0, 272.0, 177.0))
    assert crop.shape == (256, 256, 3)
    assert tuple(info["f_s_list"][0].shape) == (1, 32, 16, 64, 64) and tuple(info["x_s_list"][0].shape) == (1, 21, 3)
