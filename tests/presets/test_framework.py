"""The preset framework: templates, bindings and the registry stay consistent."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from workflows.preset import Preset, TemplateMismatch, apply_binding, load_template, prefix_outputs
from workflows.presets import PRESETS


@pytest.mark.parametrize("name", list(PRESETS))
def test_template_is_api_format_with_links_to_existing_nodes(name: str) -> None:
    graph = load_template(PRESETS[name].template)
    assert graph
    for node in graph.values():
        assert isinstance(node["class_type"], str)
        for value in node["inputs"].values():
            if isinstance(value, list):
                source, slot = value
                assert source in graph and isinstance(slot, int)


def test_load_template_returns_independent_copies() -> None:
    first = load_template("sdxl.json")
    first["3"]["inputs"]["seed"] = 123
    assert load_template("sdxl.json")["3"]["inputs"]["seed"] == 0


def test_binding_to_a_missing_input_is_a_preset_bug() -> None:
    graph = load_template("sdxl.json")
    with pytest.raises(TemplateMismatch, match=r"99\.text"):
        apply_binding(graph, {("99", "text"): "x"})
    with pytest.raises(TemplateMismatch, match=r"3\.sede"):
        apply_binding(graph, {("3", "sede"): 1})
    with pytest.raises(TemplateMismatch, match="link"):
        apply_binding(graph, {("3", "model"): "x"})


def test_every_save_node_gets_the_job_prefix() -> None:
    graph = prefix_outputs(load_template("sdxl.json"), "job-7/")
    assert graph["9"]["inputs"]["filename_prefix"] == "job-7/sdxl"


def test_a_minimal_preset_needs_only_a_model_a_template_and_a_bind() -> None:
    class Seed(BaseModel):
        seed: int = 3

    preset = Preset("demo", "Demo", "demo", Seed, "sdxl.json", lambda p: {("3", "seed"): p.seed})
    graph = preset.render(preset.validate(None), filename_prefix="p/")
    assert graph["3"]["inputs"]["seed"] == 3
    assert preset.effective_params(preset.validate({"seed": 9})) == {"seed": 9}
