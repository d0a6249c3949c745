"""Download the worker's model weights listed in ``comfy_image/models.json`` and verify them.

Used by the image build (baked models), on a pod to fill a RunPod network volume, and with
``--verify-only`` to check what is already there. Every file is streamed to ``<name>.partial``,
hashed while it arrives, and only renamed into place when its size and sha256 match the manifest.
A mismatch deletes the partial file and exits non-zero, so a Docker build fails on it.

Entries whose sha256 is null are *unverified*: nobody has recorded their hash yet. They are refused
unless ``--allow-unverified`` is given; then the measured size and sha256 are printed so they can be
written into the manifest. ``--record FILE`` writes the whole manifest with those measured values filled
in, plus the source revision Hugging Face reports for the download (its ``X-Repo-Commit`` header) and a
URL pinned to that revision: copy the file over ``comfy_image/models.json`` (after reading the diff) and
the entries are verified from then on.

Usage::

    python -m comfy_image.fetch_models --dest /runpod-volume/models [--include-optional]
        [--only NAME ...] [--allow-unverified] [--record FILE] [--verify-only [--quick]]

Exit status: 0 all provided, 1 some model failed (each is reported; the others are still
processed), 2 bad manifest or arguments.

``HF_TOKEN`` (environment) is sent as a bearer token when set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

log = logging.getLogger("fetch_models")

DEFAULT_MANIFEST = Path(__file__).resolve().parent / "models.json"
CHUNK = 1024 * 1024
SHA256_PATTERN = r"^[0-9a-f]{64}$"
FOLDER_PATTERN = r"^[a-z0-9_]+(/[a-z0-9_]+)*$"
FILENAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    repo: str
    revision: str | None = Field(description="commit of the source repository; null when not pinned")
    url: HttpUrl
    folder: str = Field(pattern=FOLDER_PATTERN, description="ComfyUI model folder, relative to the models root")
    filename: str = Field(pattern=FILENAME_PATTERN)
    size: int | None = Field(gt=0, description="exact byte count; null when not known")
    size_hint: str | None = None
    sha256: str | None = Field(pattern=SHA256_PATTERN, description="null when not known")
    license: str
    optional: bool = False

    @property
    def verified(self) -> bool:
        return self.sha256 is not None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    comment: list[str] = Field(default_factory=list, alias="$comment")
    version: int = Field(ge=1, le=1)
    models: list[ModelEntry]


class Provided(BaseModel):
    """What was measured while providing one entry (revision: the source's commit, when it said)."""

    outcome: str
    size: int | None = None
    sha256: str | None = None
    revision: str | None = None


class FetchError(Exception):
    """A model could not be provided as the manifest describes it."""


def load_manifest(path: Path) -> Manifest:
    try:
        manifest = Manifest.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        raise FetchError(f"{path}: not a valid model manifest: {exc}") from exc
    names = [entry.name for entry in manifest.models]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise FetchError(f"{path}: duplicate model names {duplicates}")
    return manifest


def hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def check(entry: ModelEntry, size: int, sha256: str) -> None:
    """Raise FetchError when measured size/hash differ from the manifest's."""
    if entry.size is not None and size != entry.size:
        raise FetchError(f"{entry.name}: size mismatch: expected {entry.size} bytes, got {size}")
    if entry.sha256 is not None and sha256 != entry.sha256:
        raise FetchError(f"{entry.name}: sha256 mismatch: expected {entry.sha256}, got {sha256}")


def download(entry: ModelEntry, target: Path, client: httpx.Client) -> Provided:
    partial = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    revision = None
    try:
        with client.stream("GET", str(entry.url)) as response:
            if response.status_code != 200:
                raise FetchError(f"{entry.name}: GET {entry.url} answered HTTP {response.status_code}")
            # Hugging Face names the commit it served (also on the redirect to its CDN, hence history).
            for hop in [*response.history, response]:
                revision = hop.headers.get("x-repo-commit") or revision
            with partial.open("wb") as sink:
                for chunk in response.iter_bytes(CHUNK):
                    sink.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        check(entry, size, digest.hexdigest())
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise FetchError(f"{entry.name}: download failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return Provided(outcome="downloaded", size=size, sha256=digest.hexdigest(), revision=revision)


def provide(
    entry: ModelEntry, dest: Path, client: httpx.Client | None, allow_unverified: bool, quick: bool = False
) -> Provided:
    """Make one model present and verified under dest (client None: check only); say what was done."""
    if not entry.verified and not allow_unverified:
        raise FetchError(
            f"{entry.name}: the manifest has no sha256 for {entry.filename}; refusing an unverified file "
            "(pass --allow-unverified to accept it and record the printed hash in the manifest)"
        )
    target = dest / entry.folder / entry.filename
    if target.is_file() and quick and client is None:
        size = target.stat().st_size
        if entry.size is not None and size != entry.size:
            raise FetchError(f"{entry.name}: size mismatch: expected {entry.size} bytes, got {size}")
        return Provided(outcome="present (size checked)")
    if target.is_file():
        size, sha256 = hash_file(target)
        try:
            check(entry, size, sha256)
        except FetchError:
            if client is None:
                raise
            log.warning("%s: existing %s does not match the manifest; downloading again", entry.name, target)
        else:
            report_unverified(entry, size, sha256)
            return Provided(outcome="present", size=size, sha256=sha256)
    elif client is None:
        raise FetchError(
            f"{entry.name}: {target} is missing; fetch it with: python -m comfy_image.fetch_models "
            f"--dest {dest} --only {entry.name}" + ("" if entry.verified else " --allow-unverified")
        )
    provided = download(entry, target, client)
    report_unverified(entry, provided.size or 0, provided.sha256 or "")
    return provided


def recorded(manifest: Manifest, measured: dict[str, Provided]) -> Manifest:
    """The manifest with measured size/sha256 (and revision, revision-pinned URL) for unverified entries."""
    models = []
    for entry in manifest.models:
        seen = measured.get(entry.name)
        if entry.verified or seen is None or seen.sha256 is None:
            models.append(entry)
            continue
        update: dict[str, object] = {"size": seen.size, "sha256": seen.sha256, "size_hint": None}
        if seen.revision and entry.revision is None:
            update["revision"] = seen.revision
            update["url"] = HttpUrl(str(entry.url).replace("/resolve/main/", f"/resolve/{seen.revision}/"))
        models.append(entry.model_copy(update=update))
    return manifest.model_copy(update={"models": models})


def write_manifest(manifest: Manifest, path: Path) -> None:
    data = manifest.model_dump(mode="json", by_alias=True, exclude_none=False)
    for model in data["models"]:
        if model.get("size_hint") is None:
            model.pop("size_hint", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def report_unverified(entry: ModelEntry, size: int, sha256: str) -> None:
    if not entry.verified:
        print(f"UNVERIFIED {entry.name}: size={size} sha256={sha256} (record these in models.json)", flush=True)


def select(manifest: Manifest, only: Sequence[str], include_optional: bool) -> list[ModelEntry]:
    known = {entry.name for entry in manifest.models}
    unknown = sorted(set(only) - known)
    if unknown:
        raise FetchError(f"unknown model names {unknown}; the manifest has {sorted(known)}")
    if only:
        return [entry for entry in manifest.models if entry.name in only]
    return [entry for entry in manifest.models if include_optional or not entry.optional]


def make_client(timeout_s: float) -> httpx.Client:
    headers = {"User-Agent": "comfy-runpod-bot-fetch-models/1"}
    token = os.environ.get("HF_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    transport = httpx.HTTPTransport(retries=3)
    return httpx.Client(
        headers=headers,
        follow_redirects=True,
        timeout=httpx.Timeout(timeout_s, connect=30.0),
        transport=transport,
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--dest", type=Path, required=True, help="models root (ComfyUI's models/ folder)")
    parser.add_argument("--only", nargs="*", default=[], metavar="NAME", help="just these entries")
    parser.add_argument("--include-optional", action="store_true", help="also entries marked optional")
    parser.add_argument("--allow-unverified", action="store_true", help="accept entries whose sha256 is null")
    parser.add_argument(
        "--record", type=Path, metavar="FILE", help="write the manifest with the measured hashes and revisions here"
    )
    parser.add_argument("--verify-only", action="store_true", help="download nothing; check what is there")
    parser.add_argument("--quick", action="store_true", help="with --verify-only: check sizes, skip hashing")
    parser.add_argument("--timeout", type=float, default=300.0, help="read timeout in seconds")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        manifest = load_manifest(args.manifest)
        entries = select(manifest, args.only, args.include_optional)
    except FetchError as exc:
        log.error("%s", exc)
        return 2
    failures = 0
    measured: dict[str, Provided] = {}
    client = None if args.verify_only else make_client(args.timeout)
    try:
        for entry in entries:
            try:
                provided = provide(entry, args.dest, client, args.allow_unverified, args.quick)
            except FetchError as exc:
                log.error("%s", exc)
                failures += 1
                continue
            measured[entry.name] = provided
            log.info("%s: %s (%s/%s)", entry.name, provided.outcome, entry.folder, entry.filename)
    finally:
        if client is not None:
            client.close()
    if args.record is not None:
        write_manifest(recorded(manifest, measured), args.record)
        log.info("manifest with the measured values written to %s", args.record)
    if failures:
        log.error("%d of %d model(s) failed", failures, len(entries))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
