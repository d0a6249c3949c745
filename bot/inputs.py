"""What the bot can use from a user's message: visible prompt text, a photo of a usable size, and a specific
reason for everything else (a round video note, a GIF, a HEIC file, a contact, a poll ...).

Whether text is visible, and what a prompt's length is, come from ``workflows.text`` (the presets' own rule)."""

from __future__ import annotations

import mimetypes
from typing import Final

from telegram import Document, Message

from workflows.liveportrait import PHOTO_MIN_SIDE
from workflows.text import control_problem, has_visible, normalise

# Image types the worker decodes, with the spellings clients use for them (image/jpg, image/pjpeg ...).
IMAGE_TYPES: Final = ("image/jpeg", "image/png", "image/webp")
MIME_ALIASES: Final = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
IMAGE_SUFFIXES: Final = ("jpg", "jpeg", "jpe", "jfif", "png", "webp")
# A MIME type that says nothing: the file name's extension decides.
UNTYPED: Final = ("", "application/octet-stream", "binary/octet-stream", "application/unknown")
HEIC_TYPES: Final = ("image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence", "image/avci")
HEIC_SUFFIXES: Final = ("heic", "heif", "hif", "avci")
# Image files the worker does not read, known by extension when the MIME type is missing or wrong.
OTHER_IMAGE_SUFFIXES: Final = frozenset(
    [
        "avif",
        "jxl",
        "tif",
        "tiff",
        "bmp",
        "dib",
        "svg",
        "svgz",
        "psd",
        "ico",
        "icns",
        "jp2",
        "j2k",
        "tga",
        "dds",
        "exr",
        "hdr",
        "raw",
        "dng",
        "cr2",
        "cr3",
        "nef",
        "arw",
        "orf",
        "rw2",
    ]
)
# Names for MIME subtypes that read badly upper-cased (SVG+XML, X-MS-BMP, VND.ADOBE.PHOTOSHOP ...).
FORMAT_NAMES: Final = {"svg+xml": "SVG", "x-ms-bmp": "BMP", "vnd.adobe.photoshop": "PSD", "x-icon": "ICO"}
# Python's own table only: the system's mime.types differs between machines (.tif or .tiff).
BUILTIN_TYPES: Final = mimetypes.MimeTypes()
MIN_SIDE: Final = PHOTO_MIN_SIDE  # the worker's own limit (workflows.face_check refuses smaller photos too)

# Message kinds that are not media, each with its own reason (checked in this order: a venue carries a location).
KIND_KEYS: Final = (
    ("venue", "input_location"),
    ("location", "input_location"),
    ("contact", "input_contact"),
    ("poll", "input_poll"),
    ("checklist", "input_poll"),
    ("dice", "input_dice"),
    ("game", "input_dice"),
    ("story", "input_story"),
    ("paid_media", "input_paid_media"),
)


def is_blank(text: str | None) -> bool:
    """Nothing visible: whitespace, zero-width and format characters, fillers, marks without a letter."""
    return not has_visible(text)


def prompt_refusal(text: str, limit: int) -> tuple[str, dict[str, object]]:
    """The text key (and values) saying why ``text`` is not a prompt the presets take (call it once they refused):
    empty, too long (in characters, counted as the preset counts them), or not ordinary text."""
    if is_blank(text):
        return "imagine_empty_prompt", {}
    if control_problem(text.replace("\r", "")) is None:
        length = len(normalise(text))
        if length > limit:
            return "imagine_prompt_too_long", {"length": length, "max": limit}
    return "imagine_bad_prompt", {}


def _suffix(name: str | None) -> str:
    name = (name or "").lower()
    return name.rsplit(".", 1)[-1] if "." in name else ""


def _mime(doc: Document) -> str:
    mime = (doc.mime_type or "").lower().split(";", 1)[0].strip()
    return MIME_ALIASES.get(mime, mime)


def usable_image(doc: Document) -> bool:
    """An image file the worker can read: by its MIME type, or by its extension when the type says nothing."""
    mime = _mime(doc)
    return mime in IMAGE_TYPES or (mime in UNTYPED and _suffix(doc.file_name) in IMAGE_SUFFIXES)


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
    if message.document is not None:
        return _document_key(message.document)
    for field, key in KIND_KEYS:
        if getattr(message, field, None) is not None:
            return key, ({"emoji": message.dice.emoji if message.dice else "🎮"} if key == "input_dice" else {})
    return "not_a_photo", {}


def _document_key(doc: Document) -> tuple[str, dict[str, object]]:
    mime, suffix = _mime(doc), _suffix(doc.file_name)
    if mime in HEIC_TYPES or suffix in HEIC_SUFFIXES:
        return "input_heic", {}
    if mime == "image/gif" or suffix == "gif":
        return "input_animation", {}
    if mime.startswith("video/"):
        return "input_video", {}
    if mime.startswith("audio/"):
        return "input_audio", {}
    kind = _format_name(suffix, mime)
    if mime.startswith("image/") or suffix in OTHER_IMAGE_SUFFIXES:
        return "input_image_format", {"format": kind}
    return ("input_document", {"format": kind}) if kind else ("input_file", {})


# Magic bytes of the formats people send: a file's content is believed over its name and MIME type.
SIGNATURES: Final = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"%PDF", "PDF"),
)
HEIF_BRANDS: Final = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
READABLE: Final = ("JPEG", "PNG", "WEBP")


def sniff(data: bytes) -> str:
    """The format the bytes are in (JPEG, PNG, WEBP, HEIC, AVIF, GIF, TIFF, BMP, PDF, VIDEO), or ""."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":  # ISO media: HEIF/AVIF images, or an MP4/MOV video
        brand = data[8:12]
        return "HEIC" if brand in HEIF_BRANDS else "AVIF" if brand in (b"avif", b"avis") else "VIDEO"
    return next((name for magic, name in SIGNATURES if data.startswith(magic)), "")


def content_refusal(data: bytes) -> tuple[str, dict[str, object]] | None:
    """Why a file's content (whatever its name says) can't be animated; None when it is a readable image."""
    kind = sniff(data)
    if kind in READABLE:
        return None
    keys: dict[str, tuple[str, dict[str, object]]] = {
        "HEIC": ("input_heic", {}),
        "GIF": ("input_animation", {}),
        "VIDEO": ("input_video", {}),
        "PDF": ("input_document", {"format": "PDF"}),
        "": ("input_file", {}),
    }
    return keys.get(kind, ("input_image_format", {"format": kind}))


def _format_name(suffix: str, mime: str) -> str:
    """TIFF, PDF, ZIP, SVG ... from the MIME type when it names one, else from the file name's extension; ""
    when neither says."""
    subtype = mime.rsplit("/", 1)[-1] if "/" in mime and mime not in UNTYPED else ""
    guessed = (BUILTIN_TYPES.guess_extension(mime) or "").lstrip(".") if subtype else ""
    named = FORMAT_NAMES.get(subtype) or guessed.upper()
    if named:
        return named
    if suffix.isalnum() and len(suffix) <= 5:
        return suffix.upper()
    return subtype.removeprefix("x-").upper() if subtype.isalnum() and len(subtype) <= 12 else ""
