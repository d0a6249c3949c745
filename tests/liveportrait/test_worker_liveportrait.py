"""The liveportrait preset and our node inside the real in-process ComfyUI worker (CPU)."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

import av
import numpy as np
import pytest
import skimage.data
from PIL import Image

from tests.handler.helpers import b64_image, failed, ok, run_job
from tests.liveportrait.kj_fakes import FAKES, SCHEMA
from workflows.contract import ErrorCode
from workflows.presets import PRESETS


@pytest.fixture(scope="module")
def kj_worker(worker: Any) -> Any:
    """The session's worker with the KJ stand-ins registered beside the built-in and our own nodes."""
    mappings = worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS
    assert "LivePortraitIdleAnimation" in mappings, "our node package was not loaded from comfy_image/nodes"
    for name, cls in FAKES.items():
        mappings.setdefault(name, cls)
    return worker


def astronaut_b64() -> str:
    return b64_image(Image.fromarray(skimage.data.astronaut()), "JPEG", quality=92)


def short_graph(duration_s: float, **animation: Any) -> dict[str, Any]:
    params = PRESETS["liveportrait"].validate({"photo": "unused", "seed": 11, "prompt": "nods"})
    graph = PRESETS["liveportrait"].render(params)
    graph["5"]["inputs"].update(duration_s=duration_s, fps=10, **animation)
    return graph


def mp4(item: Any) -> tuple[Any, np.ndarray]:
    with av.open(io.BytesIO(base64.b64decode(item.data))) as container:
        stream = container.streams.video[0]
        meta = (stream.codec_context.name, stream.format.name, float(stream.average_rate), stream.width, stream.height)
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
    return meta, frames


def _input_spec(node: dict[str, Any], name: str) -> Any:
    return node["input"].get("required", {}).get(name) or node["input"].get("optional", {}).get(name)


def _value_problem(where: str, spec: Any, value: Any) -> str | None:
    """What is wrong with a literal ``value`` for an input declared as ``spec`` (None when it fits)."""
    kind, options = spec[0], (spec[1] if len(spec) > 1 else {})
    if isinstance(kind, list):
        return None if value in kind else f"{where}: {value!r} is not one of {kind}"
    if kind == "BOOLEAN":
        return None if isinstance(value, bool) else f"{where}: {value!r} is not a boolean"
    if kind in ("INT", "FLOAT"):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (kind == "INT" and isinstance(value, float))
        ):
            return f"{where}: {value!r} is not {kind}"
        if not options.get("min", value) <= value <= options.get("max", value):
            return f"{where}: {value!r} outside [{options.get('min')}, {options.get('max')}]"
    return None


def template_vs_kj_schema(graph: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """Every problem of ``graph`` against the recorded KJ schema (and, for other nodes, the live node classes).

    KJ nodes take their inputs and outputs from the schema only, never from the stand-ins; links into and out of
    them are checked against the real types of the nodes at the other end (our node, LoadImage).
    """
    nodes = {
        name: SCHEMA[name]
        if name in SCHEMA
        else {"input": live[name].INPUT_TYPES(), "output": list(live[name].RETURN_TYPES)}
        for name in {node["class_type"] for node in graph.values()}
    }
    problems = []
    for node_id, node in graph.items():
        kind = nodes[node["class_type"]]
        missing = set(kind["input"].get("required", {})) - set(node["inputs"])
        problems += [f"{node_id}.{name}: required input missing" for name in sorted(missing)]
        for name, value in node["inputs"].items():
            spec, where = _input_spec(kind, name), f"{node_id}.{name}"
            if spec is None:
                problems.append(f"{where}: no such input")
            elif isinstance(value, list):
                source = nodes[graph[value[0]]["class_type"]]["output"]
                got = source[value[1]] if value[1] < len(source) else None
                if got != spec[0]:
                    problems.append(f"{where}: linked to {got}, expects {spec[0]}")
            elif node["class_type"] in SCHEMA and (problem := _value_problem(where, spec, value)):
                problems.append(problem)
    return problems


def test_template_fits_the_recorded_kj_schema(kj_worker: Any) -> None:
    live = kj_worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS
    template = PRESETS["liveportrait"].render(PRESETS["liveportrait"].validate({"photo": "unused", "seed": 1}))
    assert {"DownloadAndLoadLivePortraitModels", "LivePortraitCropper"} <= {n["class_type"] for n in template.values()}
    assert template_vs_kj_schema(template, live) == []


def test_schema_check_reports_a_template_that_drifted(kj_worker: Any) -> None:
    live = kj_worker.engine.comfy.nodes.NODE_CLASS_MAPPINGS
    graph = short_graph(1.0)
    graph["4"]["inputs"].update(dsize=4096, face_index_order="biggest")
    graph["5"]["inputs"]["crop_info"] = ["4", 0]  # the cropped IMAGE instead of CROPINFO
    del graph["3"]["inputs"]["keep_model_loaded"]
    assert sorted(template_vs_kj_schema(graph, live)) == [
        "3.keep_model_loaded: required input missing",
        "4.dsize: 4096 outside [64, 2048]",
        "4.face_index_order: 'biggest' is not one of "
        + str(SCHEMA["LivePortraitCropper"]["input"]["required"]["face_index_order"][0]),
        "5.crop_info: linked to IMAGE, expects CROPINFO",
    ]


async def test_template_runs_to_an_h264_mp4(kj_worker: Any) -> None:
    job = {
        "workflow": short_graph(1.2),
        "images": [{"name": "photo.png", "image": astronaut_b64()}],
        "delivery": "base64",
    }
    output = ok(await run_job(kj_worker, job))
    (video,) = output.outputs
    assert (video.kind, video.content_type, video.node_id) == ("video", "video/mp4", "6")
    meta, frames = mp4(video)
    assert meta == ("h264", "yuv420p", 10.0, 512, 512)
    assert len(frames) == 12
    face = frames[:, 82:177, 177:272].astype(int)
    assert np.abs(face - face[0]).mean(axis=(1, 2, 3)).max() > 1  # it moves
    corner = np.abs(frames[:, 420:, 420:].astype(int) - skimage.data.astronaut()[420:, 420:]).mean()
    assert corner < 3  # the rest of the photo stays put


async def test_bad_node_values_fail_validation(kj_worker: Any) -> None:
    graph = short_graph(1.0, style="dancing")
    job = {"workflow": graph, "images": [{"name": "photo.png", "image": astronaut_b64()}]}
    error = failed(await run_job(kj_worker, job))
    assert error.code is ErrorCode.WORKFLOW_INVALID
    assert "5" in error.details["node_errors"]


async def test_graph_without_a_face_fails_in_the_node(kj_worker: Any) -> None:
    coffee = b64_image(Image.fromarray(skimage.data.coffee()))
    job = {"workflow": short_graph(0.4), "images": [{"name": "photo.png", "image": coffee}]}
    error = failed(await run_job(kj_worker, job))
    # A raw workflow skips the preset's pre-check: the node's own "no face" still reaches the user as NO_FACE.
    assert error.code is ErrorCode.NO_FACE
    assert "No face" in error.message
    assert error.details["node_type"] == "LivePortraitIdleAnimation"


@pytest.mark.parametrize(
    ("photo", "code", "words"),
    [
        (lambda: b64_image(Image.fromarray(skimage.data.coffee())), ErrorCode.NO_FACE, "No face"),
        (
            lambda: b64_image(Image.fromarray(skimage.data.astronaut()).resize((100, 100))),
            ErrorCode.INVALID_INPUT,
            "too small",
        ),
        (lambda: "bm90IGFuIGltYWdl", ErrorCode.INVALID_INPUT, ""),
    ],
)
async def test_preset_rejects_bad_photos_before_the_graph(
    kj_worker: Any, photo: Any, code: ErrorCode, words: str
) -> None:
    error = failed(await run_job(kj_worker, {"preset": "liveportrait", "params": {"photo": photo()}}))
    assert error.code is code
    assert words in error.message
    assert error.details.get("field", "params.photo") == "params.photo"


@pytest.mark.slow
async def test_preset_job_end_to_end(kj_worker: Any) -> None:
    """The whole preset: 10 s at 12 fps (120 frames) with a prompt no style matches."""
    params = {"photo": astronaut_b64(), "fps": 12, "seed": 3, "prompt": "dance wildly"}
    output = ok(await run_job(kj_worker, {"preset": "liveportrait", "params": params, "delivery": "base64"}))
    assert output.preset == "liveportrait"
    assert output.params is not None and "photo" not in output.params
    assert output.params["style"] == "calm" and output.params["seed"] == 3
    assert (output.params["duration"], output.params["frames"]) == (10, 120), "what ran, for the caption"
    assert any("'calm'" in w for w in output.warnings)
    meta, frames = mp4(output.outputs[0])
    assert meta == ("h264", "yuv420p", 12.0, 512, 512)
    assert len(frames) == 120


@pytest.mark.slow
async def test_cancel_stops_the_animation_within_a_batch(kj_worker: Any, progress_sink: Any) -> None:
    job_id = "lp-cancel-1"
    graph = short_graph(30.0, batch_size=2)  # 300 frames: minutes on this CPU unless interrupted
    job = {"workflow": graph, "images": [{"name": "photo.png", "image": astronaut_b64()}]}
    task = asyncio.create_task(run_job(kj_worker, job, job_id=job_id))
    for _ in range(6000):
        if any(e["node_type"] == "LivePortraitIdleAnimation" for e in progress_sink.for_job(job_id)):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the animation node never reported progress")
    kj_worker.cancel(job_id)
    error = failed(await task)
    assert error.code is ErrorCode.CANCELLED
    frames = [e["step"] for e in progress_sink.for_job(job_id) if e["node_type"] == "LivePortraitIdleAnimation"]
    assert max(frames) < 300


async def test_kj_values_outside_the_recorded_schema_fail_validation(kj_worker: Any) -> None:
    graph = short_graph(1.0)
    graph["4"]["inputs"]["face_index_order"] = "biggest-first"
    job = {"workflow": graph, "images": [{"name": "photo.png", "image": astronaut_b64()}]}
    error = failed(await run_job(kj_worker, job))
    assert error.code is ErrorCode.WORKFLOW_INVALID
    assert error.details["node_errors"]["4"]["errors"][0]["type"] == "value_not_in_list"
