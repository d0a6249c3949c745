"""comfy_image/check_nodes.py booting the real ComfyUI (CPU) through the worker's boot code, in a child process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from comfy_image.check_nodes import collect_class_types
from handler.settings import REPO_ROOT

GOOD_PACKAGE = """
class InfraProbeNode:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}
    RETURN_TYPES = ()
    FUNCTION = "run"
    CATEGORY = "tests"
    def run(self):
        return ()

NODE_CLASS_MAPPINGS = {"InfraProbeNode": InfraProbeNode}
"""


def graph(*class_types: str) -> dict[str, Any]:
    return {str(i): {"class_type": name, "inputs": {}} for i, name in enumerate(class_types, start=1)}


def check(python: str, comfyui: Path, nodes: Path, *paths: Path) -> tuple[int, dict[str, Any], str]:
    command = [python, "-m", "comfy_image.check_nodes", "--comfyui", str(comfyui), "--custom-nodes", str(nodes)]
    command += ["--strict-custom-nodes", "--json", *map(str, paths)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    start = result.stdout.index("{\n")
    return result.returncode, json.loads(result.stdout[start:]), result.stderr


@pytest.fixture
def own_nodes(tmp_path: Path) -> Path:
    nodes = tmp_path / "nodes"
    (nodes / "infra_probe").mkdir(parents=True)
    (nodes / "infra_probe" / "__init__.py").write_text(GOOD_PACKAGE)
    (nodes / "__init__.py").write_text("")  # a package marker of the folder itself is not a node module
    return nodes


@pytest.mark.slow
def test_templates_using_builtin_and_own_nodes_pass(
    python: str, comfyui_path: Path, own_nodes: Path, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "a.json").write_text(json.dumps(graph("EmptyImage", "SaveImage", "InfraProbeNode")))
    # A preset description that embeds its graph is searched too.
    (templates / "preset.json").write_text(json.dumps({"name": "x", "workflow": graph("KSampler")}))

    code, report, stderr = check(python, comfyui_path, own_nodes, templates)

    assert code == 0, stderr
    assert set(report["used"]) == {"EmptyImage", "SaveImage", "InfraProbeNode", "KSampler"}
    assert report["missing"] == {}
    assert report["failed_custom_nodes"] == []


@pytest.mark.slow
def test_missing_class_and_broken_package_fail_the_check(
    python: str, comfyui_path: Path, own_nodes: Path, tmp_path: Path
) -> None:
    (own_nodes / "broken_pack").mkdir()
    (own_nodes / "broken_pack" / "__init__.py").write_text("import a_module_that_is_not_installed\n")
    template = tmp_path / "t.json"
    template.write_text(json.dumps(graph("SaveImage", "LivePortraitNoSuchNode")))

    code, report, stderr = check(python, comfyui_path, own_nodes, template)

    assert code == 1
    assert report["missing"] == {"LivePortraitNoSuchNode": [str(template)]}
    assert report["failed_custom_nodes"] == [str(own_nodes / "broken_pack")]
    assert "missing node class LivePortraitNoSuchNode" in stderr


def test_class_types_are_collected_from_any_json_layout(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text(json.dumps([graph("A"), {"nested": {"deeper": graph("B")}}]))
    (tmp_path / "meta.json").write_text(json.dumps({"class_type": "NotANode"}))  # no inputs: not a node

    used = collect_class_types(sorted(tmp_path.glob("*.json")))

    assert used == {"A": [str(tmp_path / "list.json")], "B": [str(tmp_path / "list.json")]}


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")

    with pytest.raises(ValueError, match=r"bad\.json"):
        collect_class_types([bad])
