"""What can be checked of the images without a Docker engine: build context, entry points, compose."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from handler.settings import REPO_ROOT

DOCKERFILES = ["Dockerfile.worker", "Dockerfile.bot"]


def ignore_patterns() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def matches(pattern: str, path: str) -> bool:
    """Docker's rule, simplified: a pattern matches a path or any of its parent folders."""
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    if pattern.startswith("**/"):
        bare = pattern.removeprefix("**/")
        return any(fnmatch.fnmatch(part, bare) for part in parts) or any(fnmatch.fnmatch(p, bare) for p in prefixes)
    return any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)


def ignored(path: str) -> bool:
    """The last matching line decides; a line starting with ! re-includes."""
    excluded = False
    for pattern in ignore_patterns():
        negated = pattern.startswith("!")
        if matches(pattern.removeprefix("!"), path):
            excluded = not negated
    return excluded


def copy_sources(dockerfile: str) -> list[str]:
    sources: list[str] = []
    for line in (REPO_ROOT / dockerfile).read_text().splitlines():
        match = re.match(r"^COPY\s+(?!--from)(.+)$", line.strip())
        if match:
            sources.extend(match.group(1).split()[:-1])
    return sources


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_every_copied_path_exists_and_reaches_the_build_context(dockerfile: str) -> None:
    sources = copy_sources(dockerfile)
    assert sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"{dockerfile}: COPY {source} does not exist"
        assert not ignored(source.rstrip("/")), f"{dockerfile}: COPY {source} is excluded by .dockerignore"


def test_context_leaves_out_tests_caches_venvs_and_weights() -> None:
    for path in [
        "tests/infra/test_x.py",
        ".venv/bin/python",
        ".comfyui/nodes.py",
        "handler/__pycache__/x.pyc",
        ".cache/wheels/a.whl",
        "models/checkpoints/sd_xl_base_1.0.safetensors",
        ".git/HEAD",
    ]:
        assert ignored(path), path
    assert ignored("scripts/lint_infra.sh")
    for path in [
        "handler/worker.py",
        "comfy_image/models.json",
        "workflows/templates/sdxl.json",
        "scripts/gpu_smoke.py",
    ]:
        assert not ignored(path), path


def test_worker_entry_point_is_an_executable_script_that_runs_the_handler() -> None:
    start = REPO_ROOT / "comfy_image" / "start.sh"
    assert os.access(start, os.X_OK)
    assert subprocess.run(["bash", "-n", str(start)], check=False).returncode == 0
    text = start.read_text()
    assert text.index("comfy_image.gpu_check") < text.index("exec python -m handler")
    assert 'CMD ["/app/comfy_image/start.sh"]' in (REPO_ROOT / "Dockerfile.worker").read_text()


def test_worker_image_never_uses_the_cpu_torch_constraints() -> None:
    text = (REPO_ROOT / "Dockerfile.worker").read_text()
    assert "requirements/constraints.txt" not in text
    assert "constraints-gpu.txt" in text
    gpu = (REPO_ROOT / "requirements" / "constraints-gpu.txt").read_text()
    cpu = (REPO_ROOT / "requirements" / "constraints.txt").read_text()
    pin = re.compile(r"^(torch|torchvision)==(\S+)$", re.M)
    assert dict(pin.findall(gpu)) == dict(pin.findall(cpu))  # same versions, CUDA build in the image


def test_compose_runs_bot_next_to_a_durable_redis() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--appendfsync everysec" in redis_command
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])
    assert "redis-data" in compose["volumes"]
    assert services["bot"]["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert services["bot"]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in ("redis", "bot", "endpoint"):
        assert services[name]["healthcheck"]["test"], name
    assert services["endpoint"]["profiles"] == ["gpu"]
