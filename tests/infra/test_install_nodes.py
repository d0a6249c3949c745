"""comfy_image/install_nodes.py with real git against a local repository, and our own package placement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from comfy_image import install_nodes
from handler.settings import REPO_ROOT


def git(cwd: Path, *args: str) -> str:
    env_args = ["-c", "user.email=ci@example.invalid", "-c", "user.name=ci", "-c", "init.defaultBranch=main"]
    return subprocess.run(["git", *env_args, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def upstream(tmp_path: Path) -> tuple[Path, str, str]:
    repo = tmp_path / "upstream"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "__init__.py").write_text("VERSION = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    pinned = git(repo, "rev-parse", "HEAD")
    (repo / "__init__.py").write_text("VERSION = 2\n")
    git(repo, "commit", "-q", "-am", "two")
    return repo, pinned, git(repo, "rev-parse", "HEAD")


def run(manifest: Path, dest: Path) -> subprocess.CompletedProcess[str]:

    command = [
        sys.executable,
        "-m",
        "comfy_image.install_nodes",
        "packs",
        "--dest",
        str(dest),
        "--manifest",
        str(manifest),
    ]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def manifest_for(tmp_path: Path, repo: Path, commit: str) -> Path:
    path = tmp_path / "node_packs.json"
    pack = {"name": "SomePack", "repo": repo.as_uri(), "commit": commit, "license": "MIT"}
    path.write_text(json.dumps({"version": 1, "packs": [pack]}))
    return path


def test_pack_is_checked_out_at_its_pinned_commit_not_the_tip(tmp_path: Path, upstream: tuple[Path, str, str]) -> None:
    repo, pinned, _tip = upstream
    dest = tmp_path / "custom_nodes"

    result = run(manifest_for(tmp_path, repo, pinned), dest)

    assert result.returncode == 0, result.stderr
    assert (dest / "SomePack" / "__init__.py").read_text() == "VERSION = 1\n"
    assert git(dest / "SomePack", "rev-parse", "HEAD") == pinned


def test_unknown_commit_fails_and_leaves_nothing(tmp_path: Path, upstream: tuple[Path, str, str]) -> None:
    repo, _pinned, _tip = upstream
    dest = tmp_path / "custom_nodes"

    result = run(manifest_for(tmp_path, repo, "f" * 40), dest)

    assert result.returncode == 1
    assert "git" in result.stderr
    assert list(dest.iterdir()) == []


def test_abbreviated_commit_is_rejected_by_the_manifest(tmp_path: Path, upstream: tuple[Path, str, str]) -> None:
    repo, pinned, _tip = upstream

    result = run(manifest_for(tmp_path, repo, pinned[:7]), tmp_path / "custom_nodes")

    assert result.returncode == 1
    assert "commit" in result.stderr


def test_every_own_package_is_linked_or_copied(tmp_path: Path) -> None:
    source = tmp_path / "nodes"
    for name in ("idle_portrait", "other_pack"):
        (source / name).mkdir(parents=True)
        (source / name / "__init__.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
    (source / "not_a_package").mkdir()
    (source / "__init__.py").write_text("")

    linked = install_nodes.link_own(source, tmp_path / "linked", copy=False)
    copied = install_nodes.link_own(source, tmp_path / "copied", copy=True)

    assert [p.name for p in linked] == ["idle_portrait", "other_pack"]
    assert all(p.is_symlink() for p in linked)
    assert [p.name for p in copied] == ["idle_portrait", "other_pack"]
    assert all(p.is_dir() and not p.is_symlink() for p in copied)
    # Linking again is a no-op; a foreign folder of the same name is never overwritten.
    assert install_nodes.link_own(source, tmp_path / "linked", copy=False) == linked
    with pytest.raises(install_nodes.InstallError, match="already exists"):
        install_nodes.link_own(source, tmp_path / "copied", copy=True)
