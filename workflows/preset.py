"""What a preset is: a named, validated parameter set bound onto a copy of an API-format workflow template.

A preset is declarative. It names its template (a JSON file in ``workflows/templates/``), its pydantic params
model (defaults and limits; the bot validates user choices with the same model the worker uses) and a ``bind``
function that says which node input each parameter sets. Rendering never mutates the cached template.

Nothing here imports ComfyUI or the worker: the bot imports this module.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

Graph = dict[str, dict[str, Any]]
NodeInput = tuple[str, str]  # (node id, input name) in a template
Binding = dict[NodeInput, Any]

P = TypeVar("P", bound=BaseModel)


class TemplateMismatch(LookupError):
    """A binding names a node or input its template does not have: a bug in the preset, not in the request."""


@cache
def _read_template(name: str) -> str:
    return resources.files("workflows").joinpath("templates", name).read_text(encoding="utf-8")


def load_template(name: str) -> Graph:
    """A fresh, independent copy of ``workflows/templates/<name>`` (the file is read once per process)."""
    graph: Graph = json.loads(_read_template(name))
    return graph


def apply_binding(graph: Graph, binding: Mapping[NodeInput, Any]) -> Graph:
    """Set each (node, input) of ``graph`` in place; only inputs the template already has may be set."""
    for (node_id, input_name), value in binding.items():
        inputs = graph.get(node_id, {}).get("inputs")
        if inputs is None or input_name not in inputs:
            raise TemplateMismatch(f"template has no input {node_id}.{input_name}")
        if isinstance(inputs[input_name], list):
            # A list is a link to another node; overwriting it with a value would silently cut the graph.
            raise TemplateMismatch(f"input {node_id}.{input_name} is a link, not a value")
        inputs[input_name] = copy.deepcopy(value)
    return graph


def prefix_outputs(graph: Graph, prefix: str) -> Graph:
    """Put ``prefix`` before every save node's ``filename_prefix`` so a job's files land in its own folder."""
    for node in graph.values():
        inputs = node.get("inputs", {})
        if isinstance(inputs.get("filename_prefix"), str):
            inputs["filename_prefix"] = prefix + inputs["filename_prefix"]
    return graph


@dataclass(frozen=True)
class Preset(Generic[P]):
    """One preset: ``bind`` maps validated params to the template inputs they set."""

    name: str
    title: str  # short, for a button or menu
    description: str  # one or two sentences for the bot's help text
    params_model: type[P]
    template: str  # file name under workflows/templates/
    bind: Callable[[P], Binding]

    def validate(self, raw: Mapping[str, Any] | None) -> P:
        """Parse user params; raises pydantic.ValidationError with each bad field's location."""
        return self.params_model.model_validate(dict(raw or {}))

    def render(self, params: P, *, filename_prefix: str = "", overrides: Binding | None = None) -> Graph:
        """The template with ``params`` bound, then the worker's own ``overrides`` (model file names, ...)."""
        graph = load_template(self.template)
        apply_binding(graph, self.bind(params))
        apply_binding(graph, overrides or {})
        return prefix_outputs(graph, filename_prefix)

    def effective_params(self, params: P) -> dict[str, Any]:
        """What the job ran with (resolved seed, pixel size, ...), JSON-ready; sending it back reproduces the job."""
        return params.model_dump(mode="json")
