"""Budgets a graph must fit before it runs: pixels, frames and outputs, estimated from literal inputs.

Each node's output is estimated as (pixels per frame, frames), walking the graph in dependency order:

- a node with ``width`` and ``height`` inputs makes frames of that size (EmptyImage, EmptyLatentImage,
  EmptySD3LatentImage, ImageScale, video latents); a file input uses the staged image's size;
- ``scale_by``/``upscale_by``/``scale_factor`` multiply the upstream size (ImageScaleBy, LatentUpscaleBy);
- ``batch_size`` x ``length`` (or ``frames``/``num_frames``/``video_frames``) sets the frame count,
  ``amount`` multiplies the upstream one (RepeatImageBatch), ``duration``/``duration_s`` x ``fps`` sets it;
- anything else carries the largest upstream estimate.

A size or count that comes from a link is taken at its declared maximum, so an input computed at run time cannot
slip past. Nodes that return image, latent or mask tensors are held to the pixel budget (the tensor is in memory
whole); those and nodes that return VIDEO (encoded as it is made) to the frame budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handler.errors import ErrorCode, JobError
from handler.file_inputs import UPLOAD_FLAGS, bypasses_checks, definitions, input_spec, is_link
from handler.outputs import ProducedFile
from handler.settings import WorkerSettings

TENSOR_TYPES = {"IMAGE", "LATENT", "MASK"}  # held in memory whole: pixels x frames
VISUAL_TYPES = TENSOR_TYPES | {"VIDEO"}  # VIDEO is encoded as it is made: frames only
_SCALE_KEYS = ("scale_by", "upscale_by", "scale_factor")
_LENGTH_KEYS = ("length", "frames", "num_frames", "video_frames")


@dataclass(frozen=True)
class Estimate:
    pixels: int = 0  # per frame
    frames: int = 1


def over_budget(setting: str, limit: int, message: str, **details: Any) -> JobError:
    return JobError(
        ErrorCode.INVALID_INPUT,
        f"{message}; this worker allows {limit} ({setting.upper()}).",
        field="workflow",
        budget=setting.upper(),
        limit=limit,
        **details,
    )


def _order(graph: Mapping[str, Any]) -> list[str]:
    """Node ids in dependency order (Kahn); nodes on a cycle are left out (ComfyUI refuses cycles itself)."""
    deps = {
        nid: {v[0] for v in node.get("inputs", {}).values() if is_link(v) and v[0] in graph}
        for nid, node in graph.items()
    }
    users: dict[str, list[str]] = {nid: [] for nid in graph}
    for nid, sources in deps.items():
        for source in sources:
            users[source].append(nid)
    ready = [nid for nid, sources in deps.items() if not sources]
    order: list[str] = []
    while ready:
        nid = ready.pop()
        order.append(nid)
        for user in users[nid]:
            deps[user].discard(nid)
            if not deps[user]:
                ready.append(user)
    return order


class _Node:
    """One node's literal numbers, links resolved to their declared maximum."""

    def __init__(self, cls: Any, inputs: Mapping[str, Any], defs: Mapping[str, Any]) -> None:
        self.cls = cls
        self.inputs = inputs
        self.defs = defs

    def number(self, name: str) -> float | None:
        value = self.inputs.get(name)
        if isinstance(value, dict) and "__value__" in value:
            value = value["__value__"]
        spec = input_spec(self.defs, name)
        ceiling = spec[1].get("max") if spec else None
        if is_link(value):
            return float(ceiling) if isinstance(ceiling, (int, float)) else None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        try:
            number = float(value)
        except (ValueError, OverflowError):  # not a number, or an int beyond float (10**400)
            return None
        if not math.isfinite(number):
            return None
        if isinstance(ceiling, (int, float)) and number > ceiling and not bypasses_checks(self.cls, name):
            return None  # ComfyUI's validation refuses it (WORKFLOW_INVALID) before anything runs
        return number


def _pixels(node: _Node, upstream: Estimate, staged: Mapping[str, tuple[int, int]]) -> int:
    width, height = node.number("width"), node.number("height")
    if width is not None and height is not None and (width > 0 or height > 0):
        width, height = (width or height), (height or width)  # 0 keeps the aspect: bound it by the other side
        return int(width) * int(height)
    for name, value in node.inputs.items():
        spec = input_spec(node.defs, name)
        if spec and any(spec[1].get(flag) for flag in UPLOAD_FLAGS) and isinstance(value, str) and value in staged:
            w, h = staged[value]
            return w * h
    pixels = upstream.pixels
    for key in _SCALE_KEYS:
        factor = node.number(key)
        if factor is not None and factor > 1:
            pixels = int(pixels * factor * factor)
    return pixels


def _frames(node: _Node, upstream: Estimate) -> int:
    duration = node.number("duration_s") or node.number("duration")
    fps = node.number("fps") or node.number("frame_rate")
    if duration and fps:
        return math.ceil(duration * fps)
    counts = [node.number(key) for key in ("batch_size", *_LENGTH_KEYS)]
    known = [int(c) for c in counts if c is not None and c >= 1]
    if known:
        return math.prod(known)
    amount = node.number("amount")
    if amount is not None and amount >= 1:
        return upstream.frames * int(amount)
    return upstream.frames


def _returns(cls: Any, types: set[str]) -> bool:
    returns = getattr(cls, "RETURN_TYPES", ()) or ()
    return any(isinstance(t, str) and t in types for t in returns)


def _outputs_of(cls: Any, defs: Mapping[str, Any], upstream: Estimate) -> int:
    """Files an output node writes: one per frame of an IMAGE input (SaveImage), else one."""
    takes_images = any(
        spec[0] == "IMAGE" for cat in ("required", "optional") for spec in (defs.get(cat) or {}).values() if spec
    )
    return upstream.frames if takes_images else 1


def check_budgets(
    graph: Mapping[str, Any], classes: Mapping[str, Any], staged: Mapping[str, tuple[int, int]], s: WorkerSettings
) -> None:
    """Refuse (INVALID_INPUT naming the setting) a graph whose estimate exceeds a budget; allocates nothing."""
    estimates: dict[str, Estimate] = {}
    outputs = 0
    for node_id in _order(graph):
        class_type = graph[node_id]["class_type"]
        cls = classes.get(class_type)
        inputs = graph[node_id].get("inputs", {})
        sources = [estimates[v[0]] for v in inputs.values() if is_link(v) and v[0] in estimates]
        upstream = Estimate(max((e.pixels for e in sources), default=0), max((e.frames for e in sources), default=1))
        if cls is None:
            estimates[node_id] = upstream
            continue
        node = _Node(cls, inputs, definitions(cls))
        estimate = Estimate(_pixels(node, upstream, staged), _frames(node, upstream))
        estimates[node_id] = estimate
        where = {"node_id": node_id, "class_type": class_type}
        total = estimate.pixels * estimate.frames
        if _returns(cls, TENSOR_TYPES) and total > s.max_job_pixels:
            raise over_budget(
                "max_job_pixels",
                s.max_job_pixels,
                f"Node {node_id} ({class_type}) asks for {total} pixels (width x height x batch x frames)",
                requested=total,
                **where,
            )
        if _returns(cls, VISUAL_TYPES) and estimate.frames > s.max_job_frames:
            raise over_budget(
                "max_job_frames",
                s.max_job_frames,
                f"Node {node_id} ({class_type}) asks for {estimate.frames} frames",
                requested=estimate.frames,
                **where,
            )
        if getattr(cls, "OUTPUT_NODE", False):
            outputs += _outputs_of(cls, node.defs, upstream)
    if outputs > s.max_job_outputs:
        raise over_budget(
            "max_job_outputs", s.max_job_outputs, f"The workflow would write {outputs} output files", requested=outputs
        )


def check_produced(produced: Sequence[ProducedFile], s: WorkerSettings) -> None:
    """Before delivery: at most MAX_JOB_OUTPUTS files of at most MAX_OUTPUT_BYTES together (S3 and base64)."""
    if len(produced) > s.max_job_outputs:
        raise over_budget(
            "max_job_outputs", s.max_job_outputs, f"The job wrote {len(produced)} output files", requested=len(produced)
        )
    total = sum(p.size for p in produced)
    if total > s.max_output_bytes:
        raise over_budget(
            "max_output_bytes", s.max_output_bytes, f"The job's outputs total {total} bytes", requested=total
        )
