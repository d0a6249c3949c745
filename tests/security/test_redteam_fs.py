"""Red-team corpus for issue 10's filesystem and budget halves: cases that slipped past the first fixes.

Each case goes through the real worker. Filesystem cases expect INVALID_INPUT (``field = "workflow"``), nothing
written outside the job's folder, and the next job to run; budget cases expect the refusal naming the setting
before anything is allocated (resident memory all but unchanged, no progress reported).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from PIL import Image

from tests.handler import graphs
from tests.handler.helpers import b64_image, failed, ok, png, run_job

MB = 1024 * 1024


async def _next_job_runs(worker: Any) -> None:
    ok(await run_job(worker, {"workflow": graphs.empty_image(8, 8)}))
    await worker.cleaned()
    jobs = worker.settings.work_dir / "jobs"
    assert not (list(jobs.iterdir()) if jobs.exists() else []), "the job's folders are removed"


def _node(worker: Any, class_type: str) -> None:
    if class_type not in worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS:
        pytest.skip(f"{class_type} is not loaded on this machine")


# ---- writes outside the job folder through free-text (STRING) inputs --------------------------------------------


def _dataset_save(class_type: str, folder: str) -> dict[str, Any]:
    inputs: dict[str, Any] = {"images": ["1", 0], "folder_name": folder, "filename_prefix": "pwn"}
    if class_type == "SaveImageTextDataSetToFolder":
        inputs["texts"] = ["9", 0]
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
        "9": {"class_type": "PrimitiveString", "inputs": {"value": "planted caption"}},
        "2": {"class_type": class_type, "inputs": inputs},
    }


@pytest.mark.parametrize("class_type", ["SaveImageDataSetToFolder", "SaveImageTextDataSetToFolder"])
@pytest.mark.parametrize("where", ["dot-dot", "absolute"])
async def test_a_dataset_folder_name_cannot_write_outside_the_job(
    worker: Any, tmp_path: Path, class_type: str, where: str
) -> None:
    _node(worker, class_type)
    target = tmp_path / f"escape-{uuid.uuid4().hex[:6]}"
    folder = str(target) if where == "absolute" else "../" * 12 + str(target).lstrip("/")
    error = failed(await run_job(worker, {"workflow": _dataset_save(class_type, folder)}))
    assert (error.code, error.details.get("field")) == ("INVALID_INPUT", "workflow"), error
    assert "only this job's own files" in error.message
    assert not target.exists(), "nothing was written outside the job's folder"
    await _next_job_runs(worker)


async def test_a_dict_wrapped_prefix_is_scoped_like_a_string(worker: Any) -> None:
    graph = graphs.empty_image(8, 8)
    graph["2"]["inputs"]["filename_prefix"] = {"__value__": "../../../../wrapped-escape"}
    out = ok(await run_job(worker, {"workflow": graph}))
    assert len(out.outputs) == 1 and (out.outputs[0].filename or "").startswith("wrapped-escape")
    await worker.cleaned()
    assert not list(worker.settings.work_dir.parent.rglob("*wrapped-escape*"))
    await _next_job_runs(worker)


class _PathNode:
    """A custom node that opens a free-text path: the kind input definitions cannot tell from a prompt."""

    CATEGORY = "testing"
    FUNCTION = "run"
    OUTPUT_NODE = True
    RETURN_TYPES = ()
    MODE = "rb"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"path": ("STRING", {"default": ""})}}

    def run(self, path: str) -> dict[str, Any]:
        with open(path, self.MODE) as handle:
            handle.write(b"x") if "w" in self.MODE else handle.read(1)
        return {"ui": {"text": ["done"]}}


class _PathWriter(_PathNode):
    MODE = "wb"


@pytest.mark.parametrize("mode", ["write outside", "read another job"])
async def test_a_custom_node_with_a_free_text_path_is_confined(worker: Any, tmp_path: Path, mode: str) -> None:
    classes = worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS
    classes["RedteamPathReader"], classes["RedteamPathWriter"] = _PathNode, _PathWriter
    if mode == "write outside":
        target = tmp_path / "planted.txt"
        graph = {"1": {"class_type": "RedteamPathWriter", "inputs": {"path": str(target)}}}
    else:
        other = worker.settings.work_dir / "jobs" / "job-other-1234" / "output"
        other.mkdir(parents=True)
        (other / "secret.png").write_bytes(b"secret")
        target = other / "secret.png"
        graph = {"1": {"class_type": "RedteamPathReader", "inputs": {"path": str(target)}}}
    try:
        error = failed(await run_job(worker, {"workflow": graph}))
        assert (error.code, error.details.get("field")) == ("INVALID_INPUT", "workflow"), error
        assert mode == "read another job" or not target.exists()
    finally:
        if mode == "read another job":
            import shutil

            shutil.rmtree(target.parent.parent)
    await _next_job_runs(worker)


# ---- budgets: sizes the first estimate did not see -----------------------------------------------------------------

BIG = 16384


def _chain(start: dict[str, Any], steps: list[tuple[str, dict[str, Any]]], save: str = "SaveImage") -> dict[str, Any]:
    graph = dict(start)
    source = "1"
    for i, (class_type, inputs) in enumerate(steps):
        node = str(10 + i)
        graph[node] = {
            "class_type": class_type,
            "inputs": {k: ([source, 0] if v == "<" else v) for k, v in inputs.items()},
        }
        source = node
    if save == "SaveImage":
        graph["2"] = {"class_type": "SaveImage", "inputs": {"images": [source, 0], "filename_prefix": "x"}}
    else:
        graph["2"] = {"class_type": "PreviewAny", "inputs": {"source": [source, 0]}}
    return graph


def _image(size: int = 64, batch: int = 1) -> dict[str, Any]:
    inputs = {"width": size, "height": size, "batch_size": batch, "color": 0}
    return {"1": {"class_type": "EmptyImage", "inputs": inputs}}


def _latent(size: int = 64, batch: int = 1) -> dict[str, Any]:
    return {"1": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": batch}}}


_PAD = {"image": "<", "left": BIG, "top": BIG, "right": BIG, "bottom": BIG, "feathering": 0}
_DOUBLE_IMAGES = [("ImageBatch", {"image1": "<", "image2": "<"})] * 12
_DOUBLE_LATENTS = [("LatentBatch", {"samples1": "<", "samples2": "<"})] * 12

BUDGET_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "outpaint padding": (_chain(_image(), [("ImagePadForOutpaint", _PAD)]), "MAX_JOB_PIXELS"),
    "image batch doubling": (_chain(_image(512), _DOUBLE_IMAGES), "MAX_JOB_PIXELS"),
    "latent batch doubling": (_chain(_latent(512), _DOUBLE_LATENTS, save="PreviewAny"), "MAX_JOB_PIXELS"),
    "resize and pad target": (
        _chain(
            _image(),
            [
                (
                    "ResizeAndPadImage",
                    {
                        "image": "<",
                        "target_width": BIG,
                        "target_height": BIG,
                        "padding_color": "white",
                        "interpolation": "area",
                    },
                )
            ],
        ),
        "MAX_JOB_PIXELS",
    ),
    "largest side": (
        _chain(
            _image(8, batch=64),
            [("ImageScaleToMaxDimension", {"image": "<", "upscale_method": "area", "largest_size": BIG})],
            save="PreviewAny",
        ),
        "MAX_JOB_PIXELS",
    ),
    "total megapixels": (
        _chain(
            _image(8, batch=64),
            [("ImageScaleToTotalPixels", {"image": "<", "upscale_method": "area", "megapixels": 16.0})],
            save="PreviewAny",
        ),
        "MAX_JOB_PIXELS",
    ),
    "image grid cells": (
        _chain(
            _image(8, batch=512),
            [("ImageGrid", {"images": "<", "columns": 1, "cell_width": 4096, "cell_height": 4096, "padding": 0})],
            save="PreviewAny",
        ),
        "MAX_JOB_PIXELS",
    ),
    **{
        f"audio seconds ({class_type})": (
            {"1": {"class_type": class_type, "inputs": {"seconds": 1000.0, "batch_size": 900}}}
            | {"2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}},
            "MAX_JOB_PIXELS",
        )
        for class_type in ("EmptyLatentAudio", "EmptyAceStepLatentAudio")
    },
}


@pytest.mark.parametrize("case", list(BUDGET_CASES))
async def test_size_multipliers_are_refused_before_allocation(worker: Any, progress_sink: Any, case: str) -> None:
    graph, setting = BUDGET_CASES[case]
    for node in graph.values():
        _node(worker, node["class_type"])
    process = psutil.Process()
    rss_before, started = process.memory_info().rss, time.monotonic()
    error = failed(await run_job(worker, {"workflow": graph}, job_id=f"redteam-{case}"))
    grown = process.memory_info().rss - rss_before
    assert error.code == "INVALID_INPUT", error
    assert error.details.get("budget") == setting and setting in error.message, error
    assert grown < 64 * MB and time.monotonic() - started < 5.0
    assert not progress_sink.for_job(f"redteam-{case}"), "nothing ran"
    await _next_job_runs(worker)


async def test_small_uses_of_the_same_nodes_still_run(worker: Any) -> None:
    """The estimates are bounds, not refusals of the node classes: modest sizes run."""
    pad = {"image": "<", "left": 8, "top": 8, "right": 8, "bottom": 8, "feathering": 0}
    graph = _chain(_image(16), [("ImagePadForOutpaint", pad), ("ImageBatch", {"image1": "<", "image2": "<"})])
    out = ok(await run_job(worker, {"workflow": graph}))
    assert len(out.outputs) == 2
    staged = [{"name": "p.png", "image": b64_image(Image.new("RGB", (24, 16)))}]
    ok(await run_job(worker, {"workflow": graphs.load_image("p.png"), "images": staged}))


class _FakeUpscaleModel:
    CATEGORY = "testing"
    FUNCTION = "load"
    RETURN_TYPES = ("UPSCALE_MODEL",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {}}

    def load(self) -> tuple[Any]:
        raise AssertionError("never runs: the budget refuses the graph first")


class _UpscaleWithModel:
    """The shape of ImageUpscaleWithModel (spandrel is not installed here): its factor is the model's own."""

    CATEGORY = "testing"
    FUNCTION = "upscale"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"upscale_model": ("UPSCALE_MODEL",), "image": ("IMAGE",)}}

    def upscale(self, upscale_model: Any, image: Any) -> tuple[Any]:
        raise AssertionError("never runs: the budget refuses the graph first")


async def test_chained_model_upscales_are_refused_before_running(worker: Any) -> None:
    classes = worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS
    classes["RedteamUpscaleModel"], classes["RedteamUpscale"] = _FakeUpscaleModel, _UpscaleWithModel
    graph = _image(1024)
    graph["8"] = {"class_type": "RedteamUpscaleModel", "inputs": {}}
    step = {"upscale_model": ["8", 0], "image": "<"}
    graph = _chain(graph, [("RedteamUpscale", step)] * 3, save="PreviewAny")
    error = failed(await run_job(worker, {"workflow": graph}))
    assert (error.code, error.details.get("budget")) == ("INVALID_INPUT", "MAX_JOB_PIXELS"), error
    await _next_job_runs(worker)


# ---- a file name in a node-specific widget -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["absolute", "dot-dot", "output annotation"])
async def test_a_webcam_capture_name_is_a_file_input(worker: Any, tmp_path: Path, kind: str) -> None:
    _node(worker, "WebcamCapture")
    fifo = tmp_path / "secret.png"
    os.mkfifo(fifo)
    up = "../" * 12
    names = {
        "absolute": (str(fifo), "/no/such.png"),
        "dot-dot": (up + str(fifo).lstrip("/"), up + "no/such.png"),
        "output annotation": (up + str(fifo).lstrip("/") + " [output]", "nothing.png [output]"),
    }
    answers = []
    for name in names[kind]:
        inputs = {"image": name, "width": 0, "height": 0, "capture_on_queue": True}
        graph = {
            "1": {"class_type": "WebcamCapture", "inputs": inputs},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "cam"}},
        }
        error = failed(await run_job(worker, {"workflow": graph}))  # opening the FIFO would block: nothing is read
        assert (error.code, error.details.get("field")) == ("INVALID_INPUT", "workflow"), error
        answers.append(error.message)
    assert answers[0] == answers[1], "no existence oracle"
    await _next_job_runs(worker)


# ---- outputs -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["MAX_OUTPUT_BYTES", "MAX_BASE64_BYTES"])
async def test_text_outputs_count_toward_the_output_budgets(
    worker: Any, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setattr(worker.settings, setting.lower(), 1000)
    graph = {
        "1": {"class_type": "PrimitiveString", "inputs": {"value": "x" * 5000}},
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
    }
    error = failed(await run_job(worker, {"workflow": graph}))
    assert (error.code, error.details.get("budget")) == ("INVALID_INPUT", setting), error
    monkeypatch.undo()
    await _next_job_runs(worker)


async def test_an_animated_save_of_many_frames_is_one_output(worker: Any) -> None:
    _node(worker, "SaveAnimatedWEBP")
    save = {"filename_prefix": "anim", "fps": 6.0, "lossless": False, "quality": 50, "method": "fastest"}
    graph = _image(8, batch=48)
    graph["2"] = {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["1", 0], **save}}
    out = ok(await run_job(worker, {"workflow": graph}))
    assert len(out.outputs) == 1


# ---- links spelled the way ComfyUI also reads as links --------------------------------------------------------------


def _linked_name(class_type: str, name: str, target: str, link: Any) -> dict[str, Any]:
    return {
        "9": {"class_type": "PrimitiveString", "inputs": {"value": target}},
        "1": {"class_type": class_type, "inputs": {name: link}},
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
    }


@pytest.mark.parametrize("link", [["9", 0.0], {"__value__": ["9", 0]}], ids=["float index", "wrapped"])
@pytest.mark.parametrize(("class_type", "name"), [("LoadLatent", "latent"), ("CheckpointLoaderSimple", "ckpt_name")])
async def test_a_file_name_linked_in_another_spelling_is_refused(
    worker: Any, tmp_path: Path, link: Any, class_type: str, name: str
) -> None:
    fifo = tmp_path / "secret.latent"
    os.mkfifo(fifo)
    error = failed(await run_job(worker, {"workflow": _linked_name(class_type, name, str(fifo), link)}))
    assert (error.code, error.details.get("reason")) == ("INVALID_INPUT", "linked"), error
    await _next_job_runs(worker)


@pytest.mark.parametrize("link", [["1", 0.0], {"__value__": ["1", 0]}], ids=["float index", "wrapped"])
async def test_a_size_behind_another_link_spelling_is_counted(worker: Any, progress_sink: Any, link: Any) -> None:
    graph = _chain(_image(4096), [("ImageScaleBy", {"image": "<", "upscale_method": "nearest-exact", "scale_by": 8.0})])
    graph["10"]["inputs"]["image"] = link
    error = failed(await run_job(worker, {"workflow": graph}, job_id=f"redteam-link-{id(link)}"))
    assert (error.code, error.details.get("budget")) == ("INVALID_INPUT", "MAX_JOB_PIXELS"), error
    assert not progress_sink.for_job(f"redteam-link-{id(link)}")
    await _next_job_runs(worker)


class _UncachedLoader:
    """A third-party loader without IS_CHANGED: ComfyUI caches it by its inputs, i.e. by the file's name."""

    CATEGORY = "testing"
    FUNCTION = "load"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        import folder_paths

        return {
            "required": {"picture": (sorted(os.listdir(folder_paths.get_input_directory())), {"image_upload": True})}
        }

    def load(self, picture: str) -> tuple[Any]:
        import folder_paths
        import numpy as np
        import torch

        with Image.open(folder_paths.get_annotated_filepath(picture)) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        return (torch.from_numpy(pixels)[None],)


async def test_a_loader_without_a_fingerprint_never_serves_an_earlier_jobs_image(worker: Any) -> None:
    worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS["RedteamUncachedLoader"] = _UncachedLoader
    graph = {
        "1": {"class_type": "RedteamUncachedLoader", "inputs": {"picture": "photo.png"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "seen"}},
    }
    for color in ((200, 10, 10), (0, 0, 255)):
        staged = [{"name": "photo.png", "image": b64_image(Image.new("RGB", (8, 8), color))}]
        out = ok(await run_job(worker, {"workflow": graph, "images": staged}))
        assert png(out.outputs[0].data or "").convert("RGB").getpixel((1, 1)) == color, "the job's own image"


# ---- model savers ----------------------------------------------------------------------------------------------------


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("linked", [False, True], ids=["literal", "linked"])
async def test_a_checkpoint_save_never_lands_among_the_models(
    worker: Any, tiny_checkpoint: str, models_dir: Path, linked: bool
) -> None:
    before = _tree(models_dir)
    aim = "../" * 12 + str(models_dir / "checkpoints" / "evil").lstrip("/")
    graph: dict[str, Any] = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": tiny_checkpoint}},
        "9": {"class_type": "PrimitiveString", "inputs": {"value": aim}},
        "2": {
            "class_type": "CheckpointSave",
            "inputs": {
                "model": ["4", 0],
                "clip": ["4", 1],
                "vae": ["4", 2],
                "filename_prefix": ["9", 0] if linked else aim,
            },
        },
    }
    result = await run_job(worker, {"workflow": graph})
    if "error" in result:
        assert failed(result).code != "INTERNAL"
    await worker.cleaned()
    assert _tree(models_dir) == before, "nothing written among the models"
    assert not list(worker.settings.work_dir.rglob("*.safetensors")), "nothing left behind"
    await _next_job_runs(worker)


# ---- text that grows at run time -------------------------------------------------------------------------------------


def _doubling_text(steps: int) -> dict[str, Any]:
    graph: dict[str, Any] = {"1": {"class_type": "PrimitiveString", "inputs": {"value": "x" * 1000}}}
    source = "1"
    for i in range(steps):
        node = str(10 + i)
        inputs = {"string_a": [source, 0], "string_b": [source, 0], "delimiter": ""}
        graph[node] = {"class_type": "StringConcatenate", "inputs": inputs}
        source = node
    graph["2"] = {"class_type": "PreviewAny", "inputs": {"source": [source, 0]}}
    return graph


def _replaced_text() -> dict[str, Any]:
    graph: dict[str, Any] = {"1": {"class_type": "PrimitiveString", "inputs": {"value": "x" * 100_000}}}
    source = "1"
    for i in range(3):
        node = str(10 + i)
        graph[node] = {
            "class_type": "StringReplace",
            "inputs": {"string": [source, 0], "find": "x", "replace": "x" * 100_000},
        }
        source = node
    graph["2"] = {"class_type": "PreviewAny", "inputs": {"source": [source, 0]}}
    return graph


@pytest.mark.parametrize("graph", [_doubling_text(40), _replaced_text()], ids=["concatenate", "replace"])
async def test_text_that_would_grow_past_the_output_budget_is_refused_before_running(
    worker: Any, graph: dict[str, Any]
) -> None:
    for node in graph.values():
        _node(worker, node["class_type"])
    process = psutil.Process()
    rss_before = process.memory_info().rss
    error = failed(await run_job(worker, {"workflow": graph}))
    assert (error.code, error.details.get("budget")) == ("INVALID_INPUT", "MAX_OUTPUT_BYTES"), error
    assert process.memory_info().rss - rss_before < 64 * MB
    ok(await run_job(worker, {"workflow": _doubling_text(3)}))
