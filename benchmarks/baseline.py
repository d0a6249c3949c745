"""One driver, two trees: measure a baseline git ref and the working tree in the same run.

``baseline_tree(ref)`` checks ``ref`` out into a temporary ``git worktree`` (``.venv``, ``.comfyui`` and
``.cache`` linked from this checkout). ``run_side`` runs THIS checkout's benchmark script in a subprocess whose
code under test (bot, handler, workflows, ...) comes from the given tree, while the measuring apparatus
(``benchmarks/``, ``tests/``: the fake Telegram, the RunPod stand-in, the tiny checkpoint) stays this checkout's,
so both sides are measured by the same code. The overlay is a folder of symlinks put first on ``sys.path``
through ``BENCH_CODE_ROOT`` (inherited by spawned worker processes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINE_REF = "0c4d6aa"  # today's bot lifecycle, before the arq job queue (issue 11)
APPARATUS = ("benchmarks", "tests")  # always the driver's own
LINKED = (".venv", ".comfyui", ".cache")


def use_code_root() -> None:
    """In a side's subprocess: the tree under test first on ``sys.path`` (call after importing benchmarks.*)."""
    code = os.environ.get("BENCH_CODE_ROOT")
    if code and (not sys.path or sys.path[0] != code):
        sys.path.insert(0, code)


@contextmanager
def baseline_tree(ref: str) -> Iterator[Path]:
    """``ref`` checked out (detached) in a temporary git worktree, removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    tree = tmp / "tree"
    git = ["git", "-C", str(REPO_ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", "--quiet", str(tree), ref], check=True)
    try:
        for name in LINKED:
            if (REPO_ROOT / name).exists() and not (tree / name).exists():
                (tree / name).symlink_to((REPO_ROOT / name).resolve())
        yield tree
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def overlay(tree: Path) -> Iterator[Path]:
    """A folder whose top-level packages are ``tree``'s, except the apparatus, which is this checkout's."""
    with tempfile.TemporaryDirectory(prefix="bench-overlay-") as tmp:
        root = Path(tmp)
        for entry in tree.iterdir():
            if entry.name not in APPARATUS and not entry.name.startswith(".git"):
                (root / entry.name).symlink_to(entry.resolve())
        for name in APPARATUS:
            (root / name).symlink_to(REPO_ROOT / name)
        yield root


def rev(tree: Path) -> str:
    out = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def run_side(script: Path, tree: Path, argv: list[str], timeout_s: float) -> dict[str, Any]:
    """Run ``script`` (this checkout's) against ``tree``'s code; it writes its results as JSON to ``--json-out``."""
    with overlay(tree) as code, tempfile.TemporaryDirectory(prefix="bench-side-") as tmp:
        out = Path(tmp) / "side.json"
        env = os.environ | {"BENCH_CODE_ROOT": str(code)}
        cmd = [sys.executable, str(script), *argv, "--json-out", str(out)]
        subprocess.run(cmd, env=env, cwd=tree, check=True, timeout=timeout_s)
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def sides(ref: str | None) -> Iterator[tuple[str, Path]]:
    """(label, tree) for the baseline (when ``ref``) and the working tree, in that order."""
    if ref:
        with baseline_tree(ref) as tree:
            yield f"baseline {ref} ({rev(tree)})", tree
    yield f"working tree ({rev(REPO_ROOT)})", REPO_ROOT
