"""The shipped manifests: every model entry complete and honest, node packs pinned by full sha."""

from __future__ import annotations

import re

from comfy_image import fetch_models, install_nodes
from handler.settings import REPO_ROOT

MODELS = fetch_models.load_manifest(REPO_ROOT / "comfy_image" / "models.json")


def by_name(name: str) -> fetch_models.ModelEntry:
    return next(entry for entry in MODELS.models if entry.name == name)


def test_sdxl_base_is_pinned_and_verified() -> None:
    sdxl = by_name("sdxl-base")
    assert sdxl.folder == "checkpoints"
    assert sdxl.filename == "sd_xl_base_1.0.safetensors"  # WorkerSettings.sdxl_checkpoint's default
    assert sdxl.size == 6_938_078_334
    assert sdxl.verified and sdxl.revision is not None
    assert not sdxl.optional


def test_every_entry_is_complete_and_unknowns_are_explicit() -> None:
    for entry in MODELS.models:
        assert entry.url.scheme == "https"
        assert str(entry.url).endswith("/" + entry.filename) or entry.filename.startswith("sdxl_vae"), entry.name
        if entry.revision is None:
            # An unpinned download cannot carry a trusted hash, and says how big to expect.
            assert entry.sha256 is None and entry.size is None and entry.size_hint, entry.name
            assert "/resolve/main/" in str(entry.url), entry.name
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", entry.revision), entry.name
            assert f"/resolve/{entry.revision}/" in str(entry.url), entry.name
        if entry.sha256 is not None:
            assert entry.size is not None, entry.name


def test_liveportrait_weights_land_where_the_kj_pack_reads_them() -> None:
    names = {entry.filename for entry in MODELS.models if entry.folder == "liveportrait"}
    assert names == {
        "appearance_feature_extractor.safetensors",
        "motion_extractor.safetensors",
        "warping_module.safetensors",
        "spade_generator.safetensors",
        "stitching_retargeting_module.safetensors",
        "landmark.onnx",
    }


def test_node_packs_are_pinned_by_full_commit() -> None:
    packs = install_nodes.load_manifest(REPO_ROOT / "comfy_image" / "node_packs.json").packs
    kj = next(pack for pack in packs if pack.name == "ComfyUI-LivePortraitKJ")
    assert kj.commit.startswith("4d9dc62") and len(kj.commit) == 40
    assert kj.repo == "https://github.com/kijai/ComfyUI-LivePortraitKJ.git"
