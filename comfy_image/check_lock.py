"""Image build gate: every package ComfyUI's own requirements.txt names is installed from the hash lock.

The worker image installs only ``requirements/lock/worker.txt`` (``--require-hashes``), whose input lists ComfyUI's
requirements by hand (``requirements/lock/comfyui-upstream.txt``). This check runs against the ComfyUI copy inside
the image, so a ComfyUI whose requirements grow fails the build instead of a job at run time::

    python -m comfy_image.check_lock --comfyui /opt/comfyui
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock" / "worker.txt"
TORCH_LOCK = ROOT / "requirements" / "lock" / "torch.txt"
# Left out on purpose (requirements/lock/comfyui-upstream.txt says why).
LEFT_OUT = frozenset({"torchaudio", "comfyui-frontend-package", "comfyui-workflow-templates", "comfyui-embedded-docs"})


def names(lines: Iterable[str]) -> set[str]:
    """Canonical names of the requirement lines (comments, options and hash continuations skipped)."""
    found: set[str] = set()
    for raw in lines:
        line = raw.split("#", 1)[0].strip().rstrip("\\").strip()
        if not line or line.startswith("-"):
            continue
        try:
            found.add(canonicalize_name(Requirement(line).name))
        except InvalidRequirement:
            continue
    return found


def uncovered(comfyui: Path, locks: Sequence[Path] = (TORCH_LOCK, LOCK)) -> list[str]:
    wanted = names((comfyui / "requirements.txt").read_text().splitlines()) - LEFT_OUT
    locked: set[str] = set()
    for lock in locks:
        locked |= names(lock.read_text().splitlines())
    return sorted(wanted - locked)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comfyui", type=Path, required=True, help="the ComfyUI folder (with requirements.txt)")
    args = parser.parse_args(argv)
    missing = uncovered(args.comfyui)
    for name in missing:
        print(f"ComfyUI requires {name}, which requirements/lock/ does not install: add it to comfyui-upstream.txt")
    print("lock covers ComfyUI's requirements" if not missing else f"{len(missing)} package(s) missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
