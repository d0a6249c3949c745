"""Install ComfyUI custom node packs: third-party packs pinned by commit, and our own packs.

``packs``: clone every pack listed in ``comfy_image/node_packs.json`` into a custom_nodes folder
at exactly its pinned commit (a shallow fetch of that commit, falling back to a full fetch for
servers that refuse fetching by sha) and verify the checked-out HEAD. Any git failure or a HEAD
that differs from the pin exits non-zero, which fails the image build.

``own``: make every node package under ``comfy_image/nodes/`` (a folder with ``__init__.py``)
visible in a custom_nodes folder, as a symlink (default) or a copy. Works for any number of packages.

Usage::

    python -m comfy_image.install_nodes packs --dest /opt/comfyui/custom_nodes [--manifest FILE]
    python -m comfy_image.install_nodes own --dest /opt/comfyui/custom_nodes [--source DIR] [--copy]

Standard library and pydantic only, so it runs before the heavy installs.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger("install_nodes")

HERE = Path(__file__).resolve().parent
DEFAULT_MANIFEST = HERE / "node_packs.json"
DEFAULT_OWN_NODES = HERE / "nodes"


class NodePack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    repo: str = Field(min_length=1)
    commit: str = Field(pattern=r"^[0-9a-f]{40}$", description="full commit sha")
    license: str


class NodePackManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    comment: list[str] = Field(default_factory=list, alias="$comment")
    version: int = Field(ge=1, le=1)
    packs: list[NodePack]


class InstallError(Exception):
    """A node pack could not be installed as pinned."""


def load_manifest(path: Path) -> NodePackManifest:
    try:
        return NodePackManifest.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        raise InstallError(f"{path}: not a valid node pack manifest: {exc}") from exc


def _git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InstallError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout.strip()


def install_pack(pack: NodePack, dest: Path) -> Path:
    target = dest / pack.name
    if target.exists() or target.is_symlink():
        raise InstallError(f"{target} already exists; refusing to overwrite it")
    target.mkdir(parents=True)
    try:
        _git("init", "--quiet", cwd=target)
        _git("remote", "add", "origin", pack.repo, cwd=target)
        try:
            _git("fetch", "--quiet", "--depth", "1", "origin", pack.commit, cwd=target)
        except InstallError:
            log.info("%s: the server refused a shallow fetch by sha; fetching the whole history", pack.name)
            _git("fetch", "--quiet", "origin", cwd=target)
        _git("-c", "advice.detachedHead=false", "checkout", "--quiet", pack.commit, cwd=target)
        head = _git("rev-parse", "HEAD", cwd=target)
        if head != pack.commit:
            raise InstallError(f"{pack.name}: HEAD is {head}, pinned {pack.commit}")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    log.info("%s: installed at %s", pack.name, pack.commit)
    return target


def own_packages(source: Path) -> list[Path]:
    if not source.is_dir():
        raise InstallError(f"{source} is not a folder")
    return sorted(p for p in source.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


def link_own(source: Path, dest: Path, copy: bool) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    placed: list[Path] = []
    for package in own_packages(source):
        target = dest / package.name
        if target.is_symlink() and target.resolve() == package.resolve():
            placed.append(target)
            continue
        if target.exists() or target.is_symlink():
            raise InstallError(f"{target} already exists and is not our {package}")
        if copy:
            shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"))
        else:
            target.symlink_to(package.resolve(), target_is_directory=True)
        log.info("%s -> %s (%s)", package, target, "copy" if copy else "symlink")
        placed.append(target)
    return placed


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    packs = sub.add_parser("packs", help="clone the pinned third-party packs")
    packs.add_argument("--dest", type=Path, required=True, help="ComfyUI custom_nodes folder")
    packs.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    own = sub.add_parser("own", help="place our own node packages")
    own.add_argument("--dest", type=Path, required=True, help="ComfyUI custom_nodes folder")
    own.add_argument("--source", type=Path, default=DEFAULT_OWN_NODES)
    own.add_argument("--copy", action="store_true", help="copy instead of symlinking")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "packs":
            args.dest.mkdir(parents=True, exist_ok=True)
            for pack in load_manifest(args.manifest).packs:
                install_pack(pack, args.dest)
        else:
            placed = link_own(args.source, args.dest, args.copy)
            log.info("%d own node package(s) placed", len(placed))
    except InstallError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
