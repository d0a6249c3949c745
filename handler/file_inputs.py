"""Every node input that names a file may name only this job's staged images or an installed model.

Checked before ComfyUI validates the graph, from each node class's own ``INPUT_TYPES`` (so custom nodes are
covered without a list of class names), with ComfyUI's folders already pointing at the job's own folders:

- upload-style inputs (``image_upload``, ``video_upload``, ``audio_upload``, ``file_upload``, ``upload``,
  ``image_folder``, ``remote``) take only a file staged for this job (``input.images``);
- any other combo (model names, input-folder listings) takes a value from its own list; a value outside the list
  that looks like a path (absolute, ``..``, a ``[output]``/``[input]``/``[temp]`` annotation, a backslash) or
  that the node's own VALIDATE_INPUTS would accept unlisted is refused;
- a link into a file combo is refused (its value is unknown until the graph runs);
- a structured literal (a dict or list) or a path-like string in an input of a node-specific type (Load3D's
  widget, WebcamCapture's ``WEBCAM`` file name) is refused.

Every refusal is the same INVALID_INPUT whatever the name points at: nothing is looked up outside the job's
folder, so the answer says nothing about which files exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handler.errors import ErrorCode, JobError

UPLOAD_FLAGS = ("image_upload", "video_upload", "audio_upload", "file_upload", "upload", "image_folder", "remote")
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
_ANNOTATION = re.compile(r"\[(output|input|temp)\]\s*$")
_DRIVE = re.compile(r"^[A-Za-z]:")


def is_link(value: Any) -> bool:
    """Exactly ComfyUI's test (comfy_execution.graph_utils.is_link): ``["9", 0.0]`` is a link too."""
    return (
        isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], (int, float))
    )


def unwrap_values(graph: Mapping[str, Any]) -> None:
    """Replace every ``{"__value__": x}`` input by ``x``, as ComfyUI's validation does before execution.

    ComfyUI validates the wrapped value as a literal but then executes the unwrapped one, so a wrapped ``["9", 0]``
    runs as a link: every check must see the graph as it will run.
    """
    for node in graph.values():
        inputs = node.get("inputs") if isinstance(node, dict) else None
        if isinstance(inputs, dict):
            for name, value in list(inputs.items()):
                if isinstance(value, dict) and "__value__" in value:
                    inputs[name] = value["__value__"]


def path_like(value: str) -> bool:
    """A name that could reach outside its folder: never a valid combo option on this worker."""
    if not value.strip() or "\x00" in value or "\\" in value or value.startswith(("/", "~")):
        return True
    if _DRIVE.match(value) or _ANNOTATION.search(value):
        return True
    return any(part == ".." for part in value.split("/"))


def definitions(cls: Any) -> dict[str, Any]:
    """A node class's input definitions, {"required": {...}, "optional": {...}} (ComfyUI v1 and v3 nodes)."""
    try:
        found = cls.INPUT_TYPES()
    except Exception as exc:  # a broken custom node: ComfyUI could not validate its inputs either
        raise JobError(
            ErrorCode.WORKFLOW_INVALID, f"Node class {getattr(cls, '__name__', cls)!r} cannot describe its inputs."
        ) from exc
    return found if isinstance(found, dict) else {}


def input_spec(defs: Mapping[str, Any], name: str) -> tuple[Any, dict[str, Any]] | None:
    """(type, options) of a declared input; None for an input the class does not declare (ComfyUI ignores it)."""
    for category in ("required", "optional"):
        spec = (defs.get(category) or {}).get(name)
        if isinstance(spec, (tuple, list)) and spec:
            info = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            return spec[0], info
    return None


@dataclass
class FileRules:
    """What one job's graph may name: its staged files, and (lazily) every installed model's name."""

    input_dir: Path
    staged: Mapping[str, Any]
    model_names: Callable[[], set[str]]
    _models: set[str] | None = field(default=None, init=False)

    def is_staged(self, value: Any) -> bool:
        if not isinstance(value, str) or value not in self.staged:
            return False
        path = self.input_dir / value
        return path.is_file() and not path.is_symlink() and path.resolve().parent == self.input_dir.resolve()

    def names_files(self, options: list[Any]) -> bool:
        """Whether a combo lists files: empty (unknown), or holding a staged file or an installed model."""
        if not options:
            return True
        if self._models is None:
            self._models = self.model_names()
        return any(isinstance(o, str) and (o in self._models or o in self.staged) for o in options)


def refusal(node_id: str, class_type: str, name: str, reason: str) -> JobError:
    return JobError(
        ErrorCode.INVALID_INPUT,
        f"Node {node_id} ({class_type}) input {name!r} names a file this job may not read: file inputs take only "
        "the names of this job's images (input.images) or of installed models.",
        field="workflow",
        node_id=node_id,
        input=name,
        reason=reason,
    )


def bypasses_checks(cls: Any, name: str) -> bool:
    """Whether ComfyUI skips its own checks (in the list, min/max) of this input: the node validates it itself."""
    import inspect

    validate = getattr(cls, "VALIDATE_INPUTS", None) or getattr(cls, "validate_inputs", None)
    if validate is None:
        return False
    try:
        spec = inspect.getfullargspec(validate)
    except TypeError:
        return True
    return name in spec.args or spec.varkw is not None


def _check_input(
    cls: Any, defs: Mapping[str, Any], node_id: str, class_type: str, name: str, value: Any, rules: FileRules
) -> None:
    spec = input_spec(defs, name)
    if spec is None:
        return
    input_type, info = spec
    upload = any(info.get(flag) for flag in UPLOAD_FLAGS)
    if isinstance(value, dict) and "__value__" in value:
        value = value["__value__"]
    combo = isinstance(input_type, list) or input_type == "COMBO"
    options = input_type if isinstance(input_type, list) else list(info.get("options") or [])
    if is_link(value):
        if upload or (combo and rules.names_files(options)):
            raise refusal(node_id, class_type, name, "linked")
    elif upload:
        if not rules.is_staged(value):
            raise refusal(node_id, class_type, name, "not an image of this job")
    elif combo:
        listed = isinstance(value, (str, int, float, bool)) and value in options
        if not listed and ((isinstance(value, str) and path_like(value)) or bypasses_checks(cls, name)):
            raise refusal(node_id, class_type, name, "not in the node's list")
    elif isinstance(input_type, str) and input_type not in WIDGET_TYPES and input_type != "*":
        # A literal in a node-specific type is a widget only that node understands (WebcamCapture's WEBCAM is a
        # file name it loads, Load3D's a dict of file names): a structured value or a path is refused.
        if isinstance(value, (dict, list)):
            raise refusal(node_id, class_type, name, "structured value")
        if isinstance(value, str) and path_like(value):
            raise refusal(node_id, class_type, name, "a path in a node-specific input")


def check_file_inputs(graph: Mapping[str, Any], classes: Mapping[str, Any], rules: FileRules) -> None:
    """Refuse (INVALID_INPUT) the first input that could make a node read a file outside this job's own."""
    for node_id, node in graph.items():
        class_type = node["class_type"]
        cls = classes.get(class_type)
        if cls is None:
            continue  # ComfyUI refuses unknown classes itself, before anything runs
        defs = definitions(cls)
        for name, value in node.get("inputs", {}).items():
            _check_input(cls, defs, str(node_id), class_type, name, value, rules)
