"""comfy_image/fetch_models.py against a real HTTP server on loopback: verified downloads, refusals, checks."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from comfy_image import fetch_models
from handler.settings import REPO_ROOT
from tests.infra.conftest import FileServer

PAYLOAD = b"not really a safetensors file\n" * 1000
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def entry(server: FileServer, **overrides: Any) -> dict[str, Any]:
    base = {
        "name": "tiny",
        "repo": "example/tiny",
        "revision": "0" * 40,
        "url": server.url("/tiny.safetensors"),
        "folder": "checkpoints",
        "filename": "tiny.safetensors",
        "size": len(PAYLOAD),
        "sha256": SHA,
        "license": "mit",
    }
    return base | overrides


def write_manifest(tmp_path: Path, *entries: dict[str, Any]) -> Path:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"version": 1, "models": list(entries)}))
    return path


def run(manifest: Path, dest: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "comfy_image.fetch_models",
        "--manifest",
        str(manifest),
        "--dest",
        str(dest),
        *flags,
    ]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_downloads_and_verifies_into_the_model_folder(tmp_path: Path, file_server: FileServer) -> None:
    file_server.files["/tiny.safetensors"] = PAYLOAD
    manifest = write_manifest(tmp_path, entry(file_server))

    result = run(manifest, tmp_path / "models")

    assert result.returncode == 0, result.stderr
    target = tmp_path / "models" / "checkpoints" / "tiny.safetensors"
    assert target.read_bytes() == PAYLOAD
    assert list(target.parent.iterdir()) == [target]  # no .partial left behind


def test_checksum_mismatch_fails_and_leaves_no_file(tmp_path: Path, file_server: FileServer) -> None:
    file_server.files["/tiny.safetensors"] = PAYLOAD[:-1] + b"X"  # same size, different content
    manifest = write_manifest(tmp_path, entry(file_server))

    result = run(manifest, tmp_path / "models")

    assert result.returncode == 1
    assert "sha256 mismatch" in result.stderr
    folder = tmp_path / "models" / "checkpoints"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_size_mismatch_fails(tmp_path: Path, file_server: FileServer) -> None:
    file_server.files["/tiny.safetensors"] = PAYLOAD + b"extra"
    manifest = write_manifest(tmp_path, entry(file_server))

    result = run(manifest, tmp_path / "models")

    assert result.returncode == 1
    assert "size mismatch" in result.stderr


def test_http_error_is_reported_with_the_status(tmp_path: Path, file_server: FileServer) -> None:
    manifest = write_manifest(tmp_path, entry(file_server))  # nothing served: 404

    result = run(manifest, tmp_path / "models")

    assert result.returncode == 1
    assert "HTTP 404" in result.stderr


def test_unverified_entry_is_refused_without_the_flag(tmp_path: Path, file_server: FileServer) -> None:
    file_server.files["/tiny.safetensors"] = PAYLOAD
    manifest = write_manifest(tmp_path, entry(file_server, sha256=None, size=None, revision=None))

    refused = run(manifest, tmp_path / "models")
    assert refused.returncode == 1
    assert "--allow-unverified" in refused.stderr
    assert file_server.requests == []  # refused before downloading anything

    allowed = run(manifest, tmp_path / "models", "--allow-unverified")
    assert allowed.returncode == 0, allowed.stderr
    assert f"size={len(PAYLOAD)} sha256={SHA}" in allowed.stdout  # what to record in the manifest


def test_present_file_is_verified_not_downloaded_again(tmp_path: Path, file_server: FileServer) -> None:
    file_server.files["/tiny.safetensors"] = PAYLOAD
    manifest = write_manifest(tmp_path, entry(file_server))
    assert run(manifest, tmp_path / "models").returncode == 0

    again = run(manifest, tmp_path / "models")

    assert again.returncode == 0
    assert file_server.requests == ["/tiny.safetensors"]


def test_corrupted_file_is_replaced_and_verify_only_reports_it(tmp_path: Path, file_server: FileServer) -> None:
    file_server.files["/tiny.safetensors"] = PAYLOAD
    manifest = write_manifest(tmp_path, entry(file_server))
    target = tmp_path / "models" / "checkpoints" / "tiny.safetensors"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\0" * len(PAYLOAD))

    check = run(manifest, tmp_path / "models", "--verify-only")
    assert check.returncode == 1
    assert "sha256 mismatch" in check.stderr
    assert file_server.requests == []

    repaired = run(manifest, tmp_path / "models")
    assert repaired.returncode == 0
    assert target.read_bytes() == PAYLOAD


def test_verify_only_lists_every_missing_model(tmp_path: Path, file_server: FileServer) -> None:
    manifest = write_manifest(
        tmp_path, entry(file_server), entry(file_server, name="other", filename="other.safetensors")
    )

    result = run(manifest, tmp_path / "models", "--verify-only", "--quick")

    assert result.returncode == 1
    assert "tiny.safetensors is missing" in result.stderr
    assert "other.safetensors is missing" in result.stderr


def test_bad_manifest_is_rejected_with_the_field(tmp_path: Path, file_server: FileServer) -> None:
    manifest = write_manifest(tmp_path, entry(file_server, sha256="abc"))

    result = run(manifest, tmp_path / "models")

    assert result.returncode == 2
    assert "sha256" in result.stderr


def test_only_selects_entries_and_unknown_names_are_an_error(tmp_path: Path, file_server: FileServer) -> None:
    manifest = fetch_models.load_manifest(write_manifest(tmp_path, entry(file_server)))

    assert [e.name for e in fetch_models.select(manifest, ["tiny"], include_optional=False)] == ["tiny"]
    with pytest.raises(fetch_models.FetchError, match="unknown model names"):
        fetch_models.select(manifest, ["nope"], include_optional=False)


def test_record_writes_measured_hash_and_the_served_revision(tmp_path: Path, file_server: FileServer) -> None:
    commit = "ab" * 20
    file_server.files["/example/tiny/resolve/main/tiny.safetensors"] = PAYLOAD
    file_server.headers["/example/tiny/resolve/main/tiny.safetensors"] = {"X-Repo-Commit": commit}
    url = file_server.url("/example/tiny/resolve/main/tiny.safetensors")
    unverified = entry(file_server, url=url, revision=None, size=None, sha256=None, size_hint="30 kB")
    manifest = write_manifest(tmp_path, unverified, entry(file_server, name="other", optional=True))
    record = tmp_path / "recorded.json"

    refused = run(manifest, tmp_path / "models", "--record", str(record))
    assert refused.returncode == 1 and "refusing an unverified file" in refused.stderr
    done = run(manifest, tmp_path / "models", "--allow-unverified", "--record", str(record))

    assert done.returncode == 0, done.stderr
    written = fetch_models.load_manifest(record)
    tiny = next(model for model in written.models if model.name == "tiny")
    assert (tiny.sha256, tiny.size, tiny.revision, tiny.size_hint) == (SHA, len(PAYLOAD), commit, None)
    assert str(tiny.url).endswith(f"/resolve/{commit}/tiny.safetensors")
    # The recorded manifest verifies the file without --allow-unverified from then on.
    again = run(record, tmp_path / "models", "--verify-only")
    assert again.returncode == 0, again.stderr


def test_missing_file_says_the_command_that_fetches_it(tmp_path: Path, file_server: FileServer) -> None:
    manifest = write_manifest(tmp_path, entry(file_server))
    result = run(manifest, tmp_path / "models", "--verify-only")
    assert result.returncode == 1
    assert f"python -m comfy_image.fetch_models --dest {tmp_path / 'models'} --only tiny" in result.stderr
