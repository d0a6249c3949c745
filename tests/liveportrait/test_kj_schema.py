"""The recorded KJ schema and the checker the image build runs against the real pack."""

from __future__ import annotations

import json
from pathlib import Path

from comfy_image.check_kj_schema import SCHEMA, differences, main


def write_pack(path: Path, schema: dict[str, dict[str, object]]) -> Path:
    """A nodes.py shaped like the KJ pack's: classes with INPUT_TYPES/RETURN_TYPES/RETURN_NAMES and other code."""
    lines = ["import torch  # never imported by the checker", ""]
    for name, entry in schema.items():
        lines += [
            f"class {name}:",
            "    @classmethod",
            "    def INPUT_TYPES(s):",
            f"        return {entry['input']!r}",
            f"    RETURN_TYPES = {tuple(entry['output'])!r}",
            f"    RETURN_NAMES = {tuple(entry['output_name'])!r}",
            "    FUNCTION = 'run'",
            "",
        ]
    path.write_text("\n".join(lines).replace("true", "True"))
    return path


def recorded() -> dict[str, dict[str, object]]:
    return {k: v for k, v in json.loads(SCHEMA.read_text()).items() if not k.startswith("_")}


def test_matching_pack_passes(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "nodes.py", recorded())
    assert differences(pack) == []
    assert main([str(pack)]) == 0


def test_drift_is_reported(tmp_path: Path) -> None:
    schema = recorded()
    cropper = schema["LivePortraitCropper"]["input"]["required"]  # type: ignore[index]
    cropper["dsize"][1]["max"] = 1024
    del schema["LivePortraitLoadMediaPipeCropper"]
    pack = write_pack(tmp_path / "nodes.py", schema)
    problems = differences(pack)
    assert any(p.startswith("LivePortraitCropper.input") and "1024" in p for p in problems)
    assert "LivePortraitLoadMediaPipeCropper: class not found" in problems
    assert main([str(pack)]) == 1


def test_schema_records_the_pin() -> None:
    source = json.loads(SCHEMA.read_text())["_source"]
    assert (source["repo"], source["commit"]) == ("kijai/ComfyUI-LivePortraitKJ", "4d9dc62")
