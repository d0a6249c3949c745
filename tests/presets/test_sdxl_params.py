"""The sdxl preset's parameters and the graph they render (pure, no ComfyUI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handler.errors import ErrorCode, JobError
from handler.files import JobFiles
from handler.presets import PREPARERS, prepare_preset
from handler.settings import WorkerSettings
from workflows import sdxl
from workflows.presets import PRESETS

NOMINAL = {"1:1": 1.0, "16:9": 16 / 9, "9:16": 9 / 16, "4:3": 4 / 3, "3:4": 3 / 4, "3:2": 3 / 2, "2:3": 2 / 3,
           "21:9": 21 / 9, "9:21": 9 / 21, "5:4": 5 / 4, "4:5": 4 / 5}  # fmt: skip


@pytest.fixture
def files(tmp_path: Path) -> JobFiles:
    return JobFiles("job-1", tmp_path / "jobs")


@pytest.fixture
def settings(tmp_path: Path) -> WorkerSettings:
    return WorkerSettings(work_dir=tmp_path, sdxl_checkpoint="my_sdxl.safetensors")


def node(graph: dict, class_type: str) -> dict:
    (found,) = [n["inputs"] for n in graph.values() if n["class_type"] == class_type]
    return found


def prepare(params: dict, files: JobFiles, settings: WorkerSettings):
    return prepare_preset("sdxl", params, files, settings)


def error_of(params: object, files: JobFiles, settings: WorkerSettings) -> JobError:
    with pytest.raises(JobError) as caught:
        prepare_preset("sdxl", params, files, settings)  # type: ignore[arg-type]
    assert caught.value.code == ErrorCode.INVALID_INPUT
    return caught.value


def test_aspect_table_is_about_one_megapixel_in_multiples_of_64() -> None:
    assert set(sdxl.ASPECT_RATIOS) == set(NOMINAL)
    for ratio, (width, height) in sdxl.ASPECT_RATIOS.items():
        assert width % 64 == 0 and height % 64 == 0, ratio
        assert 0.9e6 <= width * height <= 1.1e6, ratio
        assert abs((width / height) / NOMINAL[ratio] - 1) < 0.05, ratio


@pytest.mark.parametrize("ratio", list(sdxl.ASPECT_RATIOS))
def test_every_aspect_ratio_renders_its_exact_size(ratio: str, files: JobFiles, settings: WorkerSettings) -> None:
    job = prepare({"prompt": "a lighthouse", "aspect_ratio": ratio}, files, settings)
    latent = node(job.prompt, "EmptyLatentImage")
    assert (latent["width"], latent["height"]) == sdxl.ASPECT_RATIOS[ratio]
    assert (job.params["width"], job.params["height"]) == sdxl.ASPECT_RATIOS[ratio]
    assert job.params["aspect_ratio"] == ratio


def test_params_reach_their_nodes_and_worker_settings_fill_the_rest(files: JobFiles, settings: WorkerSettings) -> None:
    params = {"prompt": "  a red fox in snow \n", "negative_prompt": "blurry", "seed": 42, "steps": 30, "cfg": 7,
              "sampler": "euler_ancestral", "scheduler": "normal", "batch_size": 3}  # fmt: skip
    job = prepare(params, files, settings)
    assert node(job.prompt, "CheckpointLoaderSimple")["ckpt_name"] == "my_sdxl.safetensors"
    texts = sorted(n["text"] for n in (job.prompt["6"]["inputs"], job.prompt["7"]["inputs"]))
    assert texts == ["a red fox in snow", "blurry"]
    assert node(job.prompt, "EmptyLatentImage")["batch_size"] == 3
    sampler = node(job.prompt, "KSampler")
    assert (sampler["seed"], sampler["steps"], sampler["cfg"]) == (42, 30, 7.0)
    assert (sampler["sampler_name"], sampler["scheduler"], sampler["denoise"]) == ("euler_ancestral", "normal", 1.0)
    assert job.preset == "sdxl"
    assert job.params["prompt"] == "a red fox in snow"


def test_defaults(files: JobFiles, settings: WorkerSettings) -> None:
    params = prepare({"prompt": "a cat"}, files, settings).params
    assert params is not None
    expected = {"aspect_ratio": "1:1", "width": 1024, "height": 1024, "steps": 25, "cfg": 6.5,
                "sampler": "dpmpp_2m", "scheduler": "karras", "batch_size": 1}  # fmt: skip
    assert {k: params[k] for k in expected} == expected
    assert params["negative_prompt"] == sdxl.DEFAULT_NEGATIVE


@pytest.mark.parametrize("given", [{}, {"seed": None}])
def test_seed_is_random_when_absent_and_echoed(given: dict, files: JobFiles, settings: WorkerSettings) -> None:
    jobs = [prepare({"prompt": "a cat", **given}, files, settings) for _ in range(5)]
    seeds = [job.params["seed"] for job in jobs]
    assert len(set(seeds)) == 5
    for job, seed in zip(jobs, seeds, strict=True):
        assert node(job.prompt, "KSampler")["seed"] == seed
        assert 0 <= seed < 2**53


def test_effective_params_sent_back_reproduce_the_same_graph(files: JobFiles, settings: WorkerSettings) -> None:
    first = prepare({"prompt": "a cat", "aspect_ratio": "9:16"}, files, settings)
    again = prepare(json.loads(json.dumps(first.params)), files, settings)
    assert again.prompt == first.prompt
    assert again.params == first.params


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "params.prompt"),
        ({"prompt": "   "}, "params.prompt"),
        ({"prompt": "x" * 1001}, "params.prompt"),
        ({"prompt": "a cat\x00"}, "params.prompt"),
        ({"prompt": "a \x1b[31mcat"}, "params.prompt"),
        ({"prompt": 5}, "params.prompt"),
        ({"prompt": "a cat", "negative_prompt": "dark\x07"}, "params.negative_prompt"),
        ({"prompt": "a cat", "aspect_ratio": "7:3"}, "params.aspect_ratio"),
        ({"prompt": "a cat", "seed": -1}, "params.seed"),
        ({"prompt": "a cat", "seed": 2**64}, "params.seed"),
        ({"prompt": "a cat", "seed": "12"}, "params.seed"),
        ({"prompt": "a cat", "steps": 0}, "params.steps"),
        ({"prompt": "a cat", "steps": 61}, "params.steps"),
        ({"prompt": "a cat", "steps": True}, "params.steps"),
        ({"prompt": "a cat", "cfg": 0.5}, "params.cfg"),
        ({"prompt": "a cat", "cfg": 15.5}, "params.cfg"),
        ({"prompt": "a cat", "sampler": "dpmpp_2m_karras"}, "params.sampler"),
        ({"prompt": "a cat", "scheduler": "fast"}, "params.scheduler"),
        ({"prompt": "a cat", "batch_size": 5}, "params.batch_size"),
        ({"prompt": "a cat", "sampler_name": "euler"}, "params.sampler_name"),
        ({"prompt": "a cat", "width": 512, "height": 512}, "params"),
    ],
)
def test_bad_params_name_the_field(params: dict, field: str, files: JobFiles, settings: WorkerSettings) -> None:
    error = error_of(params, files, settings)
    assert error.details["field"] == field
    assert error.message.startswith(field + ": ")
    assert error.info().retryable is False


def test_every_bad_field_is_reported(files: JobFiles, settings: WorkerSettings) -> None:
    error = error_of({"prompt": "", "steps": 100}, files, settings)
    assert [e["field"] for e in error.details["errors"]] == ["params.prompt", "params.steps"]
    assert "params.prompt" in error.message and "params.steps" in error.message


def test_newlines_and_unicode_are_ordinary_prompt_text(files: JobFiles, settings: WorkerSettings) -> None:
    text = "кот в шляпе,\nакварель 🎨👩‍🎨"  # noqa: RUF001 (Cyrillic on purpose)
    job = prepare({"prompt": text}, files, settings)
    assert job.prompt["6"]["inputs"]["text"] == text


def test_unknown_preset_lists_the_known_ones(files: JobFiles, settings: WorkerSettings) -> None:
    with pytest.raises(JobError) as caught:
        prepare_preset("sdxl-turbo", {"prompt": "a cat"}, files, settings)
    error = caught.value
    assert error.code == ErrorCode.INVALID_INPUT
    assert error.details["field"] == "preset"
    assert error.message == f"Unknown preset 'sdxl-turbo'. Known: {', '.join(PRESETS)}"
    assert "sdxl" in PRESETS


def test_every_preset_has_a_worker_preparer() -> None:
    assert set(PREPARERS) == set(PRESETS)


def test_rendering_leaves_the_template_untouched(files: JobFiles, settings: WorkerSettings) -> None:
    first = prepare({"prompt": "first", "seed": 1}, files, settings)
    first.prompt["6"]["inputs"]["text"] = "mutated"
    second = prepare({"prompt": "second", "seed": 1}, files, settings)
    assert second.prompt["6"]["inputs"]["text"] == "second"
    assert PRESETS["sdxl"].render(PRESETS["sdxl"].validate({"prompt": "a"}))["5"]["inputs"]["width"] == 1024


def test_null_means_the_default(files: JobFiles, settings: WorkerSettings) -> None:
    params = prepare({"prompt": "a cat", "negative_prompt": None, "steps": None, "aspect_ratio": None}, files, settings)
    assert params.params is not None
    assert params.params["negative_prompt"] == sdxl.DEFAULT_NEGATIVE
    assert (params.params["steps"], params.params["aspect_ratio"]) == (25, "1:1")
    assert error_of({"prompt": None}, files, settings).details["field"] == "params.prompt"


def test_style_wraps_the_prompt_and_adds_to_the_negative(files: JobFiles, settings: WorkerSettings) -> None:
    job = prepare({"prompt": "a lighthouse", "style": "cinematic", "negative_prompt": "fog"}, files, settings)
    positive, negative = (job.prompt[n]["inputs"]["text"] for n in ("6", "7"))
    assert positive.startswith("cinematic film still of a lighthouse")
    assert negative.startswith("fog, ") and "cartoon" in negative
    assert job.params["style"] == "cinematic" and job.params["prompt"] == "a lighthouse", "the user's own words"


def test_no_style_leaves_the_prompts_as_typed(files: JobFiles, settings: WorkerSettings) -> None:
    job = prepare({"prompt": "a lighthouse", "style": None, "negative_prompt": "fog"}, files, settings)
    assert (job.prompt["6"]["inputs"]["text"], job.prompt["7"]["inputs"]["text"]) == ("a lighthouse", "fog")
    assert job.params["style"] == "none"


def test_every_style_has_a_title_and_a_prompt_slot() -> None:
    from workflows.styles import STYLES, apply_style

    assert "none" in STYLES and len(STYLES) >= 4
    for name, style in STYLES.items():
        assert style.title and "{prompt}" in style.prompt, name
        assert "PROMPT-X" in apply_style(name, "PROMPT-X", "")[0]


def test_unknown_style_names_the_known_ones(files: JobFiles, settings: WorkerSettings) -> None:
    error = error_of({"prompt": "a lighthouse", "style": "vaporwave"}, files, settings)
    assert error.details["field"] == "params.style"
    assert "vaporwave" in error.message and "cinematic" in error.message


def test_steps_and_cfg_limits_are_the_module_constants(files: JobFiles, settings: WorkerSettings) -> None:
    low = prepare({"prompt": "x", "steps": sdxl.STEPS_MIN, "cfg": sdxl.CFG_MIN}, files, settings)
    high = prepare({"prompt": "x", "steps": sdxl.STEPS_MAX, "cfg": sdxl.CFG_MAX}, files, settings)
    assert (low.prompt["3"]["inputs"]["steps"], high.prompt["3"]["inputs"]["cfg"]) == (sdxl.STEPS_MIN, sdxl.CFG_MAX)
    assert error_of({"prompt": "x", "steps": sdxl.STEPS_MAX + 1}, files, settings).details["field"] == "params.steps"
    assert error_of({"prompt": "x", "cfg": sdxl.CFG_MAX + 0.5}, files, settings).details["field"] == "params.cfg"


@pytest.mark.parametrize("prompt", ["\u200b\u200b", " \u2060 \ufeff ", "\u00a0"])
def test_prompt_of_only_invisible_characters_is_empty(prompt: str, files: JobFiles, settings: WorkerSettings) -> None:
    assert error_of({"prompt": prompt}, files, settings).details["field"] == "params.prompt"
