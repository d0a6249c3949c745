"""Prompt text: one definition, shared by every preset's validation and the bot (which must never accept a prompt
the worker refuses, or refuse one it takes).

``normalise`` is the form the presets keep and their length limits count: newlines unified, NFC, zero-width and
bidi padding removed, outer whitespace stripped; empty when nothing visible is left. Control characters (other than
whitespace: tab, newline ...) and lone surrogates are refused. Joiners, variation selectors and tag characters stay: they build
emoji (👨‍👩‍👧, ❤️, 🏴 flags), and a prompt of emoji only is a valid prompt.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# Render as nothing, yet not in a blank Unicode category: Hangul fillers, the braille blank, the combining grapheme
# joiner, Khmer inherent vowels, Mongolian and Unicode variation selectors.
INVISIBLE: Final = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5\u180b\u180c\u180d\u180f"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
BLANK_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
# Padding a text encoder never needs: zero-width space, word joiner, BOM, soft hyphen, Mongolian vowel separator,
# bidi marks, embeddings, overrides and isolates.
DROPPED: Final = frozenset(
    "\u200b\u2060\ufeff\u00ad\u180e\u200e\u200f\u061c"
    + "".join(map(chr, range(0x202A, 0x202F)))
    + "".join(map(chr, range(0x2066, 0x206A)))
)


def visible_char(char: str) -> bool:
    """Whether the character shows on its own: not blank, not invisible, not a mark (marks need a base letter).
    Unassigned code points count as visible: emoji newer than this Python's Unicode tables are unassigned here."""
    category = unicodedata.category(char)
    return char not in INVISIBLE and category not in BLANK_CATEGORIES and not category.startswith("M")


def has_visible(text: str | None) -> bool:
    return any(visible_char(char) for char in text or "")


def control_problem(text: str) -> str | None:
    """Why the text can't be a prompt at all (a control character or a lone surrogate), else None."""
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc" and not char.isspace():  # tab, newline, vertical tab, NEL ... are whitespace
            return f"must not contain control characters (found U+{ord(char):04X})"
        if category == "Cs":
            return f"must be valid Unicode text (found a lone surrogate U+{ord(char):04X})"
    return None


def normalise(text: str) -> str:
    """The prompt as the presets keep it (see the module docstring); raises ValueError for control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    problem = control_problem(text)
    if problem is not None:
        raise ValueError(problem)
    text = "".join(char for char in unicodedata.normalize("NFC", text) if char not in DROPPED).strip()
    return text if has_visible(text) else ""


def without_controls(text: str) -> str:
    """Free text with control characters and lone surrogates removed (a caption read for keywords, never refused)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs") or c.isspace())
