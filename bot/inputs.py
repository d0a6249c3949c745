"""What the bot can use from a user's message: visible prompt text, a photo of a usable size, and a specific
reason for everything else (a round video note, a GIF, a HEIC file ...)."""

from __future__ import annotations

import mimetypes
import unicodedata
from typing import Final

from telegram import Message

# Characters that render as nothing but are not in a blank Unicode category: Hangul fillers, the braille
# blank, the combining grapheme joiner and the variation selectors.
INVISIBLE: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f" + "".join(map(chr, range(0xFE00, 0xFE10))))
BLANK_CATEGORIES: Final = ("Cc", "Cf", "Zs", "Zl", "Zp")
IMAGE_TYPES: Final = ("image/jpeg", "image/png", "image/webp")
HEIC_TYPES: Final = ("image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence")
HEIC_SUFFIXES: Final = (".heic", ".heif")
MIN_SIDE: Final = 256  # smaller sizes are thumbnails: too few pixels for a face


def visible(text: str) -> str:
    """The text without whitespace and invisible characters (zero-width spaces, format characters ...)."""
    return "".join(c for c in text if unicodedata.category(c) not in BLANK_CATEGORIES and c not in INVISIBLE)


def is_blank(text: str | None) -> bool:
    return not visible(text or "")


def refusal_key(message: Message) -> tuple[str, dict[str, object]]:
    """The text key (and its values) explaining why this message cannot be animated."""
    if message.video_note is not None:
        return "input_video_note", {}
    if message.animation is not None:  # GIFs arrive as animations (Telegram turns them into MP4s)
        return "input_animation", {}
    if message.video is not None:
        return "input_video", {}
    if message.sticker is not None:
        return "input_sticker", {}
    if message.voice is not None or message.audio is not None:
        return "input_audio", {}
    doc = message.document
    if doc is not None:
        mime = (doc.mime_type or "").lower()
        name = (doc.file_name or "").lower()
        if mime in HEIC_TYPES or name.endswith(HEIC_SUFFIXES):
            return "input_heic", {}
        if mime.startswith("image/"):
            return "input_image_format", {"format": mime.removeprefix("image/").upper()}
        return "input_document", {"format": _file_kind(name, mime)}
    return "not_a_photo", {}


def _file_kind(name: str, mime: str) -> str:
    """PDF, ZIP, MP3 ... from the file name's extension, else from its MIME type."""
    suffix = name.rsplit(".", 1)[-1] if "." in name else (mimetypes.guess_extension(mime) or "").lstrip(".")
    return (suffix or mime.rsplit("/", 1)[-1] or "?").upper()
