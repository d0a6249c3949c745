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
    assert text.index("comfy_image.gpu_check") < text.index('exec "${drop[@]}" python -m handler')
    assert 'CMD ["/app/comfy_image/start.sh"]' in (REPO_ROOT / "Dockerfile.worker").read_text()


def test_worker_image_installs_torch_first_at_the_tested_versions() -> None:
    text = (REPO_ROOT / "Dockerfile.worker").read_text()
    assert "requirements/constraints.txt" not in text
    copies = [line for line in text.splitlines() if line.startswith("COPY") and "--from" not in line]
    assert copies[0] == "COPY requirements/lock/torch.txt requirements/lock/"  # a requirements edit keeps torch
    torch_lock = (REPO_ROOT / "requirements" / "lock" / "torch.txt").read_text()
    cpu = (REPO_ROOT / "requirements" / "constraints.txt").read_text()
    locked = dict(re.findall(r"^(torch|torchvision)==([^+\s]+)\+cu128$", torch_lock, re.M))
    assert locked == dict(re.findall(r"^(torch|torchvision)==(\S+)$", cpu, re.M))  # CUDA build, same version


def test_every_other_install_requires_hashes() -> None:
    for dockerfile in DOCKERFILES:
        logical = (REPO_ROOT / dockerfile).read_text().replace("\\\n", " ")
        for command in re.split(r"\n|&&", logical):
            if re.search(r"\b(pip|uv pip) install\b", command) and "torch.txt" not in command:
                assert "--require-hashes" in command, f"{dockerfile}: {command.strip()}"


def test_worker_runtime_leaves_out_the_local_endpoint_and_runs_the_build_gates() -> None:
    text = (REPO_ROOT / "Dockerfile.worker").read_text()
    assert "RUN rm -rf handler/local_endpoint" in text
    runtime = text[text.index("AS runtime-base") :]
    assert "local_endpoint" not in runtime.split("AS local-endpoint")[0]
    assert text.rstrip().endswith("FROM runtime-base AS runtime")  # the default target
    for gate in ("comfy_image.check_lock", "comfy_image.check_kj_schema", "comfy_image.check_nodes"):
        assert f"python -m {gate}" in text, gate


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


def test_compose_images_are_lowercase_and_each_service_has_its_own_env_file() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("bot", "endpoint"):
        image = services[name]["image"]
        default = re.fullmatch(r"\$\{[A-Z_]+:-([^}]+)\}", image)
        assert default and default.group(1) == default.group(1).lower(), image
    assert services["bot"]["env_file"] == [{"path": "bot.env", "required": True}]
    assert services["endpoint"]["env_file"][0]["path"] == "endpoint.env"
    assert services["endpoint"]["build"]["target"] == "local-endpoint"
    for example in ("bot.env.example", "endpoint.env.example"):
        assert (REPO_ROOT / "deploy" / example).is_file()


def test_caddy_serves_both_webhooks_on_a_port_telegram_accepts() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    caddy = compose["services"]["caddy"]
    assert "443:443" in caddy["ports"]
    caddyfile = (REPO_ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy bot:8443" in caddyfile and "reverse_proxy bot:8081" in caddyfile
    assert "handle /telegram {" in caddyfile and "handle /runpod/* {" in caddyfile
