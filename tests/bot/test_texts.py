"""The text catalog: every text in both languages, with the same placeholders, and every key the code uses."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.texts import CATALOG, LANGUAGES, error_text, pick_language, t
from workflows.contract import ErrorCode

BOT = Path(__file__).resolve().parents[2] / "bot"


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_text_exists_in_every_language_with_the_same_placeholders(key: str) -> None:
    entry = CATALOG[key]
    assert set(entry) == set(LANGUAGES)
    assert fields(entry["en"]) == fields(entry["ru"])


def test_every_key_the_code_uses_exists() -> None:
    used = set()
    for path in BOT.rglob("*.py"):
        used |= set(re.findall(r"\bt\([^,()]+,\s*\"([a-z_A-Z]+)\"", path.read_text()))
    assert used and used <= set(CATALOG), used - set(CATALOG)


def test_every_error_code_has_its_own_message() -> None:
    for code in ErrorCode:
        assert f"err_{code.value}" in CATALOG
    assert error_text("ru", "SOMETHING_NEW") == t("ru", "err_INTERNAL")


@pytest.mark.parametrize(
    ("code", "lang"), [("ru", "ru"), ("ru-RU", "ru"), ("uk", "ru"), ("en", "en"), (None, "en"), ("de", "en")]
)
def test_language_from_telegram(code: str | None, lang: str) -> None:
    assert pick_language(code) == lang
