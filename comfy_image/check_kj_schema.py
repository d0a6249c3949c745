"""Check comfy_image/kj_liveportrait_schema.json against an installed KJ LivePortrait pack's nodes.py.

Tests validate our liveportrait template against that recorded schema because the pack cannot be installed where
they run; the image build runs this against the real checkout so the record can never drift from the pin:

    python -m comfy_image.check_kj_schema /comfyui/custom_nodes/ComfyUI-LivePortraitKJ/nodes.py

Only the INPUT_TYPES functions' bodies (plain literals in that pack) are evaluated, without importing the pack.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).with_name("kj_liveportrait_schema.json")


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def read_pack(nodes_py: Path, names: set[str]) -> dict[str, dict[str, Any]]:
    """INPUT_TYPES, RETURN_TYPES and RETURN_NAMES of the named classes in the pack's nodes.py."""
    found: dict[str, dict[str, Any]] = {}
    for node in ast.parse(nodes_py.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.ClassDef) or node.name not in names:
            continue
        entry: dict[str, Any] = {}
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "INPUT_TYPES":
                item.decorator_list = []
                namespace: dict[str, Any] = {}
                exec(compile(ast.Module([item], []), str(nodes_py), "exec"), namespace)  # noqa: S102 - literals only
                entry["input"] = _plain(namespace["INPUT_TYPES"](None))
            elif isinstance(item, ast.Assign) and isinstance(item.targets[0], ast.Name):
                key = {"RETURN_TYPES": "output", "RETURN_NAMES": "output_name"}.get(item.targets[0].id)
                if key:
                    entry[key] = list(ast.literal_eval(item.value))
        found[node.name] = entry
    return found


def differences(nodes_py: Path) -> list[str]:
    recorded = {k: v for k, v in json.loads(SCHEMA.read_text()).items() if not k.startswith("_")}
    actual = read_pack(nodes_py, set(recorded))
    problems = []
    for name, want in recorded.items():
        got = actual.get(name)
        if got is None:
            problems.append(f"{name}: class not found")
            continue
        problems += [
            f"{name}.{key}: recorded {want[key]!r}, pack has {got.get(key)!r}"
            for key in want
            if got.get(key) != want[key]
        ]
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(f"usage: python -m comfy_image.check_kj_schema NODES_PY\n{__doc__}")
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    problems = differences(Path(argv[0]))
    for line in problems:
        print(line)
    print("schema matches" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
