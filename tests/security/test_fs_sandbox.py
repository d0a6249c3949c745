"""A job reads and writes only its own files: every name that reaches past them gets one INVALID_INPUT.

Each attack names a FIFO where it can: opening one for reading blocks until a writer comes, so a job that comes
back at all has not opened it (nothing is read), and the answer is the same as for a name that exists nowhere.
"""

from __future__ import annotations

import glob
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.handler import graphs
from tests.handler.helpers import b64_image, failed, ok, png, run_job

RED = Image.new("RGB", (24, 16), (200, 10, 10))


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "secret.png"
    os.mkfifo(path)
    yield path


async def _jobs_left(worker: Any) -> list[Path]:
    await worker.cleaned()  # folders are removed right after the response, before the next job starts
    jobs = worker.settings.work_dir / "jobs"
    return list(jobs.iterdir()) if jobs.exists() else []


def _idle_files(worker: Any) -> list[Path]:
    return [p for name in ("input", "output", "temp") for p in (worker.engine.dirs[name]).rglob("*")]


async def _refused(worker: Any, job_input: dict[str, Any]) -> str:
    error = failed(await run_job(worker, job_input))
    assert error.code == "INVALID_INPUT", error
    assert error.details["field"] == "workflow"
    assert not await _jobs_left(worker), "the job's folders are removed"
    return error.message


def _names(fifo: Path, work: Path) -> dict[str, tuple[str, str]]:
    """(a name that reaches an existing FIFO, the same shape of name reaching nothing)."""
    up = "../" * 12
    return {
        "absolute": (str(fifo), "/no/such/file.png"),
        "dot-dot": (f"{up}{str(fifo).lstrip('/')}", f"{up}no/such/file.png"),
        "output annotation": (f"{up}{str(fifo).lstrip('/')} [output]", "nothing.png [output]"),
        "temp annotation": ("secret.png [temp]", "nothing.png [temp]"),
        "input annotation": (f"{up}{str(fifo).lstrip('/')} [input]", "nothing.png [input]"),
        "backslash": ("..\\..\\secret.png", "..\\..\\nothing.png"),
    }


@pytest.mark.parametrize(
    "kind", ["absolute", "dot-dot", "output annotation", "temp annotation", "input annotation", "backslash"]
)
async def test_load_image_names_outside_the_job_are_one_error_and_nothing_is_read(
    worker: Any, fifo: Path, kind: str
) -> None:
    existing, missing = _names(fifo, worker.settings.work_dir)[kind]
    staged = [{"name": "photo.png", "image": b64_image(RED)}]
    first = await _refused(worker, {"workflow": graphs.load_image(existing), "images": staged})
    second = await _refused(worker, {"workflow": graphs.load_image(missing), "images": staged})
    assert first == second, "no existence oracle: the same answer whether the target exists or not"
    assert "input.images" in first
    ok(await run_job(worker, {"workflow": graphs.load_image("photo.png"), "images": staged}))


async def test_every_loader_of_comfyui_is_covered(worker: Any, fifo: Path) -> None:
    classes = worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS
    loaders = {
        "LoadImage": ("image", {}),
        "LoadImageMask": ("image", {"channel": "alpha"}),
        "LoadImageOutput": ("image", {}),
        "LoadLatent": ("latent", {}),
        "LoadVideo": ("file", {}),
        "LoadAudio": ("audio", {}),
    }
    tried = []
    for class_type, (name, extra) in loaders.items():
        if class_type not in classes:
            continue  # an optional node whose dependencies this machine lacks
        graph = {"1": {"class_type": class_type, "inputs": {name: str(fifo), **extra}}}
        graph["2"] = {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}
        await _refused(worker, {"workflow": graph})
        tried.append(class_type)
    assert {"LoadImage", "LoadImageMask", "LoadImageOutput", "LoadLatent"} <= set(tried)


async def test_a_custom_node_with_an_upload_input_is_covered_without_naming_it(worker: Any, fifo: Path) -> None:
    class ThirdPartyPictureLoader:
        @classmethod
        def INPUT_TYPES(cls) -> dict[str, Any]:
            return {"required": {"picture": ([], {"image_upload": True})}}

        RETURN_TYPES = ("IMAGE",)
        FUNCTION = "load"
        CATEGORY = "testing"

        def load(self, picture: str) -> Any:
            raise AssertionError("never runs: the name was refused before execution")

    worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS["ThirdPartyPictureLoader"] = ThirdPartyPictureLoader
    graph = graphs.empty_image()
    graph["1"] = {"class_type": "ThirdPartyPictureLoader", "inputs": {"picture": str(fifo)}}
    await _refused(worker, {"workflow": graph})


async def test_a_linked_file_name_is_refused(worker: Any) -> None:
    graph = graphs.load_image("photo.png")
    graph["9"] = {"class_type": "PrimitiveString", "inputs": {"value": "photo.png"}}
    graph["1"]["inputs"]["image"] = ["9", 0]
    message = await _refused(worker, {"workflow": graph, "images": [{"name": "photo.png", "image": b64_image(RED)}]})
    assert "Node 1 (LoadImage)" in message


async def test_model_names_that_are_paths_are_refused_and_unknown_models_stay_model_missing(
    worker: Any, fifo: Path
) -> None:
    await _refused(worker, {"workflow": graphs.sampler(str(fifo))})
    await _refused(worker, {"workflow": graphs.sampler("../../../../etc/hostname")})
    error = failed(await run_job(worker, {"workflow": graphs.sampler("not-installed.safetensors")}))
    assert error.code == "MODEL_MISSING"


async def test_a_symlink_out_of_the_input_folder_is_not_an_image_of_the_job(worker: Any, fifo: Path) -> None:
    link = worker.engine.dirs["input"] / "planted.png"
    link.symlink_to(fifo)
    try:
        await _refused(worker, {"workflow": graphs.load_image("planted.png")})
    finally:
        link.unlink()


async def test_a_structured_widget_value_naming_files_is_refused(worker: Any, fifo: Path) -> None:
    if "Load3D" not in worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS:
        pytest.skip("Load3D is not loaded on this machine")
    value = {"image": str(fifo), "mask": str(fifo), "normal": str(fifo)}
    graph = {"1": {"class_type": "Load3D", "inputs": {"model_file": "", "image": value, "width": 8, "height": 8}}}
    graph["2"] = {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}
    await _refused(worker, {"workflow": graph})


# ---- outputs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["../../../../escaped", "/tmp/escaped", "a/../../escaped", "%year%/../escaped"])
async def test_literal_output_prefixes_stay_in_the_job_folder(worker: Any, prefix: str) -> None:
    graph = graphs.empty_image(8, 8)
    graph["2"]["inputs"]["filename_prefix"] = prefix
    out = ok(await run_job(worker, {"workflow": graph}))
    assert [item.filename for item in out.outputs] == [out.outputs[0].filename]
    assert "/" not in (out.outputs[0].filename or "")
    assert not await _jobs_left(worker)
    assert not list(worker.settings.work_dir.parent.rglob("*escaped*")), "nothing written outside"
    assert not glob.glob("/tmp/escaped*")


async def test_a_linked_output_prefix_stays_in_the_job_folder(worker: Any) -> None:
    graph = graphs.empty_image(8, 8)
    graph["9"] = {"class_type": "PrimitiveString", "inputs": {"value": "../../../../linked-escape"}}
    graph["2"]["inputs"]["filename_prefix"] = ["9", 0]
    out = ok(await run_job(worker, {"workflow": graph}))
    assert len(out.outputs) == 1 and (out.outputs[0].filename or "").startswith("linked-escape")
    assert not await _jobs_left(worker)
    assert not list(worker.settings.work_dir.parent.rglob("*linked-escape*"))
    again = ok(await run_job(worker, {"workflow": graph}))
    assert len(again.outputs) == 1, "the second identical job writes (and delivers) its own file"


async def test_a_later_job_cannot_load_an_earlier_jobs_output_or_preview(worker: Any) -> None:
    graph = graphs.empty_image(8, 8)
    graph["2"]["inputs"]["filename_prefix"] = "secret"
    graph["3"] = {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}
    first = ok(await run_job(worker, {"workflow": graph}, job_id="earlier"))
    names = [item.filename or "" for item in first.outputs]
    assert len(names) == 2
    assert not await _jobs_left(worker) and not _idle_files(worker), "outputs and previews are removed after delivery"
    for name in names:
        for ref in (name, f"{name} [output]", f"{name} [temp]", f"../../job-earlier/output/{name}"):
            await _refused(worker, {"workflow": graphs.load_image(ref)})


async def test_the_same_job_id_twice_gets_fresh_outputs(worker: Any) -> None:
    graph = graphs.empty_image(8, 8, color=0x0000FF)
    for _ in range(2):
        out = ok(await run_job(worker, {"workflow": graph}, job_id="reused-id"))
        assert len(out.outputs) == 1
        assert png(out.outputs[0].data or "").convert("RGB").getpixel((1, 1)) == (0, 0, 255)


# ---- input names -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names", [("photo.png", "photo.jpg"), ("a b.png", "a_b.png"), ("dir/x.png", "x.png"), ("é.png", "e.png")]
)
async def test_two_images_stored_under_one_name_are_refused(worker: Any, names: tuple[str, str]) -> None:
    blue = Image.new("RGB", (24, 16), (0, 0, 255))
    images = [{"name": names[0], "image": b64_image(RED)}, {"name": names[1], "image": b64_image(blue)}]
    error = failed(await run_job(worker, {"workflow": graphs.load_image(names[1]), "images": images}))
    assert error.code == "INVALID_INPUT"
    assert error.details["field"] == "images.name"
    assert "distinct" in error.message
    assert not await _jobs_left(worker)


@pytest.mark.parametrize("name", ["....", "/", "日本語", "\x00", "../../"])
async def test_image_names_that_sanitise_to_nothing_are_refused(worker: Any, name: str) -> None:
    images = [{"name": name, "image": b64_image(RED)}]
    error = failed(await run_job(worker, {"workflow": graphs.load_image("x.png"), "images": images}))
    assert (error.code, error.details["field"]) == ("INVALID_INPUT", "images.name")
    assert not await _jobs_left(worker)


async def test_distinct_names_load_their_own_images(worker: Any) -> None:
    blue = Image.new("RGB", (24, 16), (0, 0, 255))
    images = [{"name": "red.png", "image": b64_image(RED)}, {"name": "blue.png", "image": b64_image(blue)}]
    out = ok(await run_job(worker, {"workflow": graphs.load_image("blue.png"), "images": images}))
    assert png(out.outputs[0].data or "").convert("RGB").getpixel((1, 1)) == (0, 0, 255)


def _hostile_names(count: int) -> list[str]:
    """Seeded random names: separators, dots, annotations, control and non-ASCII characters, long ones."""
    rng = random.Random(10)
    alphabet = "/\\.. []~:%\x00\x01\n\tabcXYZ09_-é日\u202e"
    parts = ["..", "/", "[output]", "[temp]", "[input]", "~", "C:", "%year%", "photo.png"]
    names = []
    for _ in range(count):
        pieces = [rng.choice(parts) if rng.random() < 0.4 else rng.choice(alphabet) for _ in range(rng.randint(1, 12))]
        names.append("".join(pieces) * rng.choice([1, 1, 1, 40]))
    return names


async def test_hostile_file_names_are_always_the_one_specific_error(worker: Any) -> None:
    staged = [{"name": "photo.png", "image": b64_image(RED)}]
    for name in _hostile_names(150):
        if name == "photo.png":
            continue
        image = failed(await run_job(worker, {"workflow": graphs.load_image(name), "images": staged}))
        assert (image.code, image.details.get("field")) == ("INVALID_INPUT", "workflow"), (name, image)
        model = failed(await run_job(worker, {"workflow": graphs.sampler(name)}))
        assert model.code in ("INVALID_INPUT", "MODEL_MISSING"), (name, model)
    assert not await _jobs_left(worker)
    ok(await run_job(worker, {"workflow": graphs.load_image("photo.png"), "images": staged}))


def test_only_stale_job_folders_are_removed_at_start(tmp_path: Path) -> None:
    from handler.files import remove_stale

    old, fresh = tmp_path / "job-killed-1", tmp_path / "job-sibling-2"
    for folder in (old, fresh):
        (folder / "input").mkdir(parents=True)
    os.utime(old, (0, 0))
    remove_stale(tmp_path, older_than_s=700)
    assert not old.exists(), "a folder left by a killed process goes"
    assert (fresh / "input").is_dir(), "a sibling process's running job keeps its folder"
