"""The liveportrait preset's params, style choice and graph binding (no ComfyUI, no worker)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from comfy_image.nodes.idle_portrait.motion import MotionStyle
from workflows import liveportrait
from workflows.presets import PRESETS

PRESET = PRESETS["liveportrait"]


def test_defaults() -> None:
    params = PRESET.validate({"photo": "aGVsbG8="})
    assert (params.duration, params.fps, params.intensity, params.prompt, params.style) == (10, 25, 1.0, None, "calm")
    assert params.frames == 250
    assert 0 <= params.seed < 2**53


def test_effective_params_echo_everything_but_the_photo() -> None:
    params = PRESET.validate({"photo": "x" * 1000, "duration": 20, "seed": 5, "prompt": "smile please"})
    echoed = PRESET.effective_params(params)
    assert "photo" not in echoed
    assert echoed == {
        "duration": 20,
        "fps": 25,
        "intensity": 1.0,
        "seed": 5,
        "prompt": "smile please",
        "style": "cheerful",
        "frames": 500,
    }
    # Sending the echo back with the photo reproduces the job.
    again = PRESET.validate({**echoed, "photo": "x"})
    assert PRESET.bind(again) == PRESET.bind(params)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "photo"),
        ({"photo": ""}, "photo"),
        ({"photo": "a", "duration": 12}, "duration"),
        ({"photo": "a", "duration": "10"}, "duration"),
        ({"photo": "a", "fps": 60}, "fps"),
        ({"photo": "a", "intensity": 5}, "intensity"),
        ({"photo": "a", "seed": -1}, "seed"),
        ({"photo": "a", "prompt": "x" * 301}, "prompt"),
        ({"photo": "a", "prompt": "smile\x00"}, "prompt"),
        ({"photo": "a", "styles": "calm"}, "styles"),
    ],
)
def test_bad_params_name_their_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        PRESET.validate(raw)
    assert err.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize(
    ("prompt", "style", "known"),
    [
        (None, "calm", True),
        ("", "calm", True),
        ("nods", "nods", True),
        ("Cheerful", "cheerful", True),
        ("a warm smile", "cheerful", True),
        ("nodding along, agreeing", "nods", True),
        ("relaxed and calm", "calm", True),
        ("улыбается", "cheerful", True),
        ("dance wildly", "calm", False),
    ],
)
def test_prompt_picks_a_style(prompt: str | None, style: str, known: bool) -> None:
    assert liveportrait.resolve_style(prompt) == (style, known)
    params = PRESET.validate({"photo": "a", "prompt": prompt})
    assert params.style == style
    assert (params.style_warning() is None) == known


def test_echoed_fields_must_agree() -> None:
    with pytest.raises(ValidationError, match="style follows prompt"):
        PRESET.validate({"photo": "a", "style": "nods"})
    with pytest.raises(ValidationError, match="frames follows"):
        PRESET.validate({"photo": "a", "duration": 10, "frames": 10})


def test_unknown_style_warning_names_what_ran() -> None:
    warning = PRESET.validate({"photo": "a", "prompt": "dance wildly"}).style_warning()
    assert warning is not None and "'calm'" in warning and "dance wildly" in warning


def test_styles_match_the_node() -> None:
    assert set(liveportrait.STYLES) == {s.value for s in MotionStyle}


def test_render_binds_params_and_scopes_the_output() -> None:
    params = PRESET.validate({"photo": "a", "duration": 15, "fps": 20, "intensity": 0.5, "seed": 9, "prompt": "nod"})
    graph = PRESET.render(params, overrides={liveportrait.PHOTO_INPUT: "job-1/photo.png"})
    animation = graph["5"]["inputs"]
    assert graph["5"]["class_type"] == "LivePortraitIdleAnimation"
    assert (
        animation["duration_s"],
        animation["fps"],
        animation["style"],
        animation["intensity"],
        animation["seed"],
    ) == (15.0, 20, "nods", 0.5, 9)
    assert graph["1"]["inputs"]["image"] == "job-1/photo.png"
    assert graph["6"]["inputs"]["filename_prefix"] == "liveportrait"  # the worker scopes it to the job
    assert (graph["6"]["inputs"]["format"], graph["6"]["inputs"]["codec"]) == ("mp4", "h264")
    assert graph["5"]["inputs"]["crop_info"] == ["4", 1] and graph["4"]["inputs"]["dsize"] == 512
