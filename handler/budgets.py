"""Budgets a graph must fit before it runs: pixels, frames and outputs, estimated from literal inputs.

Each node's output is estimated as (width, height, frames), walking the graph in dependency order:

- a node with ``<prefix>width`` and ``<prefix>height`` inputs makes frames of that size (EmptyImage, latents,
  ImageScale, ResizeAndPadImage's ``target_*``, ImageGrid's ``cell_*``); a file input uses the staged image's size;
  ``largest_size``/``longer_edge``/``resolution`` bound both sides, ``shorter_edge`` and ``megapixels`` scale the
  upstream frame; ``seconds`` is audio, counted as 2 x 44100 samples per second;
- ``scale_by``/``upscale_by``/``scale_factor`` multiply the upstream size (ImageScaleBy, LatentUpscaleBy), and
  ``left``/``right``/``top``/``bottom``/``spacing_width`` add to it (ImagePadForOutpaint, ImageStitch);
- inputs numbered alike (``image1``/``image2``: ImageBatch, LatentBatch, LatentConcat) add their frames;
- ``batch_size`` x ``length`` (or ``frames``/``num_frames``/``video_frames``) sets the frame count,
  ``amount`` multiplies the upstream one (RepeatImageBatch), ``duration``/``duration_s`` x ``fps`` sets it;
- anything else carries the largest upstream estimate.

A size or count that comes from a link is taken at its declared maximum, so an input computed at run time cannot
slip past. Nodes that return image, latent or mask tensors are held to the pixel budget (the tensor is in memory
whole); those and nodes that return VIDEO (encoded as it is made) to the frame budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handler.errors import ErrorCode, JobError
from handler.file_inputs import UPLOAD_FLAGS, bypasses_checks, definitions, input_spec, is_link
from handler.outputs import ProducedFile, ProducedText
from handler.settings import WorkerSettings

TENSOR_TYPES = {"IMAGE", "LATENT", "MASK"}  # held in memory whole: pixels x frames
VISUAL_TYPES = TENSOR_TYPES | {"VIDEO"}  # VIDEO is encoded as it is made: frames only
_SCALE_KEYS = ("scale_by", "upscale_by", "scale_factor")
_LENGTH_KEYS = ("length", "frames", "num_frames", "video_frames")
_HUGE = 2.0**40  # any side past this is over every budget; keeps products of hostile numbers finite
MODEL_UPSCALE = 4  # ImageUpscaleWithModel: the common 4x models (a larger factor is not bounded here)
_EDGE_KEYS = ("largest_size", "longer_edge", "shorter_edge", "resolution")
_NUMBERED = re.compile(r"^(.*?)[._]?\d+$")  # image1/image2, samples1/samples2: inputs joined into one batch


@dataclass(frozen=True)
class Estimate:
    width: float = 0  # per frame
    height: float = 0
    frames: int = 1
    text: int = 0  # bytes of the text a STRING node makes

    @property
    def pixels(self) -> int:
        return int(self.width * self.height)


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


def _dimension_pairs(node: _Node) -> list[tuple[float, float]]:
    """Every ``<prefix>width``/``<prefix>height`` pair (width, target_width, cell_width ...) the node takes."""
    pairs = []
    for name in (*node.inputs, *(node.defs.get("required") or {}), *(node.defs.get("optional") or {})):
        if name.endswith("width"):
            width, height = node.number(name), node.number(name[: -len("width")] + "height")
            if width is not None and height is not None and (width > 0 or height > 0):
                pairs.append((width or height, height or width))  # 0 keeps the aspect: bound it by the other side
    return pairs


def _size(node: _Node, upstream: Estimate, staged: Mapping[str, tuple[int, int]]) -> tuple[float, float]:
    """(width, height) of the node's frames; audio is counted as 2 x samples (44.1 kHz) per batch item."""
    pairs = _dimension_pairs(node)
    if pairs:
        return max(w for w, _ in pairs), max(h for _, h in pairs)
    for name, value in node.inputs.items():
        spec = input_spec(node.defs, name)
        if spec and any(spec[1].get(flag) for flag in UPLOAD_FLAGS) and isinstance(value, str) and value in staged:
            return staged[value]
    seconds = node.number("seconds")
    if seconds is not None and seconds > 0:
        return seconds * 44100, 2
    width, height = upstream.width, upstream.height
    for key in _EDGE_KEYS:  # a side length: the longer side of the result is at most that
        edge = node.number(key)
        if edge is not None and edge > 0:
            short = min(width, height) if width and height else 0
            scale = edge / short if key == "shorter_edge" and short else 1
            return (width * scale, height * scale) if scale != 1 else (max(edge, 1), max(edge, 1))
    megapixels = node.number("megapixels")
    if megapixels is not None and megapixels > 0 and width and height:
        scale = math.sqrt(megapixels * 1_000_000 / (width * height))
        width, height = width * max(scale, 1), height * max(scale, 1)
    for key in _SCALE_KEYS:
        factor = node.number(key)
        if factor is not None and factor > 1:
            width, height = width * factor, height * factor
    if any((spec := input_spec(node.defs, name)) and spec[0] == "UPSCALE_MODEL" for name in node.inputs):
        width, height = width * MODEL_UPSCALE, height * MODEL_UPSCALE  # the model's own factor: unknown until loaded
    width += sum(node.number(k) or 0 for k in ("left", "right", "spacing_width"))  # padding grows the frame
    height += sum(node.number(k) or 0 for k in ("top", "bottom"))
    return width, height


def _frames(node: _Node, upstream: Estimate) -> int:
    duration = node.number("duration_s") or node.number("duration")
    fps = node.number("fps") or node.number("frame_rate")
    if duration and fps:
        return math.ceil(min(duration * fps, _HUGE))
    counts = [node.number(key) for key in ("batch_size", *_LENGTH_KEYS)]
    known = [int(c) for c in counts if c is not None and c >= 1]
    if known:
        return math.prod(known)
    amount = node.number("amount")
    if amount is not None and amount >= 1:
        return upstream.frames * int(amount)
    return upstream.frames


def _upstream(inputs: Mapping[str, Any], defs: Mapping[str, Any], estimates: Mapping[str, Estimate]) -> Estimate:
    """The largest linked estimate; tensor inputs numbered alike (ImageBatch's image1, image2) add their frames."""
    sources = {name: estimates[v[0]] for name, v in inputs.items() if is_link(v) and v[0] in estimates}
    frames = max((e.frames for e in sources.values()), default=1)
    groups: dict[str, int] = {}
    for name, estimate in sources.items():
        spec = input_spec(defs, name)
        match = _NUMBERED.match(name)
        if match and spec is not None and spec[0] in TENSOR_TYPES:
            groups[match.group(1)] = groups.get(match.group(1), 0) + estimate.frames
    frames = max([frames, *groups.values()])
    width = max((e.width for e in sources.values()), default=0)
    height = max((e.height for e in sources.values()), default=0)
    return Estimate(width, height, frames)


def _text(node: _Node, estimates: Mapping[str, Estimate]) -> int:
    """Bytes of text a STRING node may make: its text inputs together (StringConcatenate linked to one source
    twice doubles it), and a ``replace`` may stand in for every character of ``string`` (StringReplace)."""
    sizes: dict[str, int] = {}
    for name, value in node.inputs.items():
        if isinstance(value, str):
            sizes[name] = len(value.encode("utf-8", "surrogatepass"))
        elif is_link(value) and value[0] in estimates:
            sizes[name] = estimates[value[0]].text
    total = sum(sizes.values())
    if "replace" in sizes:
        total += (sizes.get("string", 0) + 1) * sizes["replace"]
    return min(total, int(_HUGE))


def _returns(cls: Any, types: set[str]) -> bool:
    returns = getattr(cls, "RETURN_TYPES", ()) or ()
    return any(isinstance(t, str) and t in types for t in returns)


def _outputs_of(cls: Any, defs: Mapping[str, Any], upstream: Estimate) -> int:
    """Files an output node writes: one per frame of an IMAGE input (SaveImage), else one."""
    takes_images = any(
        spec[0] == "IMAGE" for cat in ("required", "optional") for spec in (defs.get(cat) or {}).values() if spec
    )
    animated = any(input_spec(defs, key) for key in ("fps", "frame_rate"))  # SaveAnimatedWEBP, SaveWEBM: one file
    return upstream.frames if takes_images and not animated else 1


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
        defs = definitions(cls) if cls is not None else {}
        upstream = _upstream(inputs, defs, estimates)
        if cls is None:
            estimates[node_id] = upstream
            continue
        node = _Node(cls, inputs, defs)
        width, height = (min(max(side, 0.0), _HUGE) for side in _size(node, upstream, staged))
        text = _text(node, estimates) if _returns(cls, {"STRING"}) else 0
        estimate = Estimate(width, height, _frames(node, upstream), text)
        estimates[node_id] = estimate
        where = {"node_id": node_id, "class_type": class_type}
        if text > s.max_output_bytes:
            raise over_budget(
                "max_output_bytes",
                s.max_output_bytes,
                f"Node {node_id} ({class_type}) could make a text of {text} bytes",
                requested=text,
                **where,
            )
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


def check_produced(produced: Sequence[ProducedFile], texts: Sequence[ProducedText], s: WorkerSettings) -> None:
    """Before delivery: at most MAX_JOB_OUTPUTS files and texts of at most MAX_OUTPUT_BYTES together (S3, base64,
    and texts, which are always returned inline)."""
    count = len(produced) + len(texts)
    if count > s.max_job_outputs:
        raise over_budget("max_job_outputs", s.max_job_outputs, f"The job produced {count} outputs", requested=count)
    text_bytes = sum(len(t.text.encode("utf-8", "surrogatepass")) for t in texts)
    if text_bytes > s.max_base64_bytes:  # texts are always returned inline, whatever the delivery
        raise over_budget(
            "max_base64_bytes", s.max_base64_bytes, f"The job's texts total {text_bytes} bytes", requested=text_bytes
        )
    total = sum(p.size for p in produced) + text_bytes
    if total > s.max_output_bytes:
        raise over_budget(
            "max_output_bytes", s.max_output_bytes, f"The job's outputs total {total} bytes", requested=total
        )
