"""The bot image (Dockerfile.bot copies bot/ and workflows/) holds a locked package for every import it makes.

A guarded or lazy import (the face pre-check imports mediapipe on first use) fails only when it runs, in
production; this reads every import statement, function bodies included, so a missing package shows up here.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGE_PACKAGES = ("bot", "workflows")  # what Dockerfile.bot copies
LOCKS = ("bot.txt", "bot-nodeps.txt")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> set[str]:
    modules: set[str] = set()
    for package in IMAGE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m not in IMAGE_PACKAGES and m != "__future__"}


def _locked() -> set[str]:
    names: set[str] = set()
    for lock in LOCKS:
        for line in (ROOT / "requirements" / "lock" / lock).read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
            if match:
                names.add(_normal(match.group(1)))
    return names


def test_every_import_of_the_bot_image_has_a_locked_package() -> None:
    distributions = importlib.metadata.packages_distributions()
    locked = _locked()
    missing = {}
    for module in sorted(_imported_modules()):
        owners = {_normal(d) for d in distributions.get(module, [])}
        assert owners, f"{module!r} is imported by bot/ or workflows/ but no installed distribution provides it"
        if not owners & locked:
            missing[module] = sorted(owners)
    assert not missing, f"imported by the bot image but not in requirements/lock/{LOCKS}: {missing}"


def test_the_face_pre_check_runs_in_the_bot_image() -> None:
    # The bot refuses a photo without a face before holding credits only when this import works there.
    assert {"mediapipe", "numpy", "pillow", "opencv-python-headless", "matplotlib"} <= _locked()
