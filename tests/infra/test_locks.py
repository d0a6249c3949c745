"""requirements/lock/: the hash-locked sets the images install agree with the pins they were compiled from.

A failure here after editing requirements/*.txt means: run scripts/lock_requirements.sh and commit the result.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from comfy_image import check_lock
from handler.settings import REPO_ROOT

REQ = REPO_ROOT / "requirements"
LOCK = REQ / "lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def pins(path: Path) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in PIN.findall(path.read_text())}


@pytest.mark.parametrize(
    ("lock", "sources"),
    [
        ("bot.txt", ["bot.txt"]),
        ("bot-nodeps.txt", ["bot-nodeps.txt"]),
        ("worker.txt", ["worker.txt", "comfyui.txt", "../comfy_image/requirements-nodes.txt"]),
        ("worker-nodeps.txt", ["worker-nodeps.txt"]),
    ],
)
def test_lock_holds_every_pin_of_its_sources_at_the_same_version(lock: str, sources: list[str]) -> None:
    locked = pins(LOCK / lock)
    for source in sources:
        for name, version in pins(REQ / source).items():
            if name in {"torch", "torchvision"}:
                continue  # the torch layer (requirements/lock/torch.txt)
            assert locked.get(name) == version, f"{source}: {name}=={version}; lock has {locked.get(name)}"


@pytest.mark.parametrize(
    "lock", ["bot.txt", "bot-nodeps.txt", "worker.txt", "worker-nodeps.txt", "comfyui-source.txt", "fetch.txt"]
)
def test_every_locked_package_carries_a_hash(lock: str) -> None:
    entries = re.split(r"\n(?=[a-z0-9])", (LOCK / lock).read_text().strip())
    packages = [entry for entry in entries if PIN.match(entry)]
    assert packages
    for entry in packages:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


@pytest.mark.parametrize(
    "lock", ["bot.txt", "bot-nodeps.txt", "worker.txt", "worker-nodeps.txt", "comfyui-source.txt", "fetch.txt"]
)
def test_every_hash_line_continues_a_requirement(lock: str) -> None:
    # uv (Dockerfile.worker's installer) refuses a --hash line that no requirement line continues into.
    lines = (LOCK / lock).read_text().splitlines()
    orphans = [n + 1 for n, line in enumerate(lines) if line.strip().startswith("--hash") and n and not
               lines[n - 1].rstrip().endswith("\\")]  # fmt: skip
    assert orphans == [], f"{lock}: --hash lines with no requirement at lines {orphans[:5]}"


def test_worker_lock_brings_no_second_torch_or_cuda_libraries() -> None:
    names = set(pins(LOCK / "worker.txt"))
    assert not {"torch", "torchvision", "triton"} & names
    assert not [name for name in names if name.startswith(("nvidia-", "cuda-"))]


def test_lock_covers_every_requirement_of_the_comfyui_the_tests_run(comfyui_path: Path) -> None:
    assert check_lock.uncovered(comfyui_path) == []


def test_a_comfyui_requirement_missing_from_the_lock_is_named(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("torch\nnumpy>=1.25\nbrand-new-package>=1\ntorchaudio\n")
    assert check_lock.uncovered(tmp_path) == ["brand-new-package"]
