"""Everything a workflow produced, read from ComfyUI's history outputs (images, videos, VHS gifs, text)."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from workflows.contract import OutputItem, OutputKind

_VIDEO_EXTENSIONS = {".mp4", ".webm", ".mov", ".mkv", ".avi"}
_EXTRA_TYPES = {".webp": "image/webp", ".webm": "video/webm", ".mkv": "video/x-matroska", ".flac": "audio/flac"}


@dataclass(frozen=True)
class ProducedFile:
    node_id: str
    path: Path
    kind: OutputKind
    content_type: str

    @property
    def filename(self) -> str:
        return self.path.name

    @cached_property
    def size(self) -> int:
        return self.path.stat().st_size

    def item(self, **delivery: str) -> OutputItem:
        """This file as a job output, delivered as ``url``/``key`` or ``data``."""
        return OutputItem(
            node_id=self.node_id,
            kind=self.kind,
            filename=self.filename,
            content_type=self.content_type,
            size=self.size,
            **delivery,
        )


@dataclass(frozen=True)
class ProducedText:
    node_id: str
    text: str


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return _EXTRA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _kind(path: Path, content: str, animated: bool) -> OutputKind:
    if path.suffix.lower() in _VIDEO_EXTENSIONS or content.startswith("video/"):
        return OutputKind.VIDEO
    if content.startswith("image/"):
        return OutputKind.VIDEO if animated and path.suffix.lower() != ".png" else OutputKind.IMAGE
    return OutputKind.FILE


def _inside(base: Path, entry: dict[str, Any]) -> Path | None:
    """The file an output entry names, only if it lies inside ``base`` (never trust names blindly)."""
    candidate = (base / str(entry.get("subfolder") or "") / str(entry["filename"])).resolve()
    return candidate if candidate.is_file() and candidate.is_relative_to(base.resolve()) else None


def collect(outputs: dict[str, dict[str, Any]], dirs: dict[str, Path]) -> tuple[list[ProducedFile], list[ProducedText]]:
    """Files (any list of {filename, subfolder, type}) and texts of every output node, in node order."""
    files: list[ProducedFile] = []
    texts: list[ProducedText] = []
    for node_id, ui in outputs.items():
        animated = any(bool(flag) for flag in ui.get("animated", []) or [])
        for key, entries in ui.items():
            if not isinstance(entries, list):
                continue
            for entry in entries:
                if key == "text" and isinstance(entry, str):
                    texts.append(ProducedText(node_id, entry))
                elif isinstance(entry, dict) and "filename" in entry:
                    base = dirs.get(str(entry.get("type") or "output"))
                    path = _inside(base, entry) if base else None
                    if path is not None:
                        mime = content_type(path)
                        files.append(ProducedFile(node_id, path, _kind(path, mime, animated or key == "gifs"), mime))
    return files, texts
