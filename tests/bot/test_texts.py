"""The text catalog: every text in both languages, with the same placeholders, plurals from CLDR's rules."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel import Locale

from bot.texts import CATALOG, LANGUAGES, NOUNS, error_text, pick_language, plural, size_pair, t
from workflows.contract import ErrorCode

BOT = Path(__file__).resolve().parents[2] / "bot"


def fields(text: str) -> set[tuple[str, str]]:
    return {(name, spec or "") for _, name, spec, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_text_exists_in_every_language_with_the_same_placeholders(key: str) -> None:
    entry = CATALOG[key]
    assert set(entry) == set(LANGUAGES)
    assert fields(entry["en"]) == fields(entry["ru"])
    for _, spec in fields(entry["en"]):
        assert spec in ("", *NOUNS), f"{key}: unknown plural noun {spec!r}"


@pytest.mark.parametrize("key", sorted(CATALOG))
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("count", [0, 1, 2, 5, 21, 1.5])
def test_every_text_fills_with_any_count(key: str, lang: str, count: float) -> None:
    values = {name: count for name, _ in fields(CATALOG[key][lang])}
    assert t(lang, key, **values)


@pytest.mark.parametrize("noun", sorted(NOUNS))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_noun_has_every_plural_form_the_language_needs(noun: str, lang: str) -> None:
    assert set(NOUNS[noun][lang]) == set(Locale.parse(lang).plural_form.tags) | {"other"}


def test_no_text_glues_a_number_to_a_fixed_noun_form() -> None:
    """Counts are written {n:credits}, never "{n} кредитов" (wrong for 1, 3, 21 ...)."""
    glued = re.compile(r"\{\w+\} ?(credit|кредит|результат|запрос|секунд|second|request|result)", re.IGNORECASE)
    bad = [(key, lang) for key, entry in CATALOG.items() for lang, text in entry.items() if glued.search(text)]
    assert bad == []


@pytest.mark.parametrize(
    ("count", "ru", "en"),
    [
        (1, "1 кредит", "1 credit"),
        (3, "3 кредита", "3 credits"),
        (5, "5 кредитов", "5 credits"),
        (11, "11 кредитов", "11 credits"),
        (21, "21 кредит", "21 credits"),
        (24, "24 кредита", "24 credits"),
    ],
)
def test_russian_plurals(count: int, ru: str, en: str) -> None:
    assert plural("ru", "credits", count) == ru and plural("en", "credits", count) == en
    assert t("ru", "balance", balance=count) == f"Баланс: {ru}."
    assert t("ru", "refunded", cost=count) == f"Возвращено на баланс: {ru}."


def test_other_languages_read_english() -> None:
    assert t("de", "balance", balance=1) == "Balance: 1 credit."
    assert plural("fr", "credits", 2) == "2 credits"


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
    ("code", "lang"), [("ru", "ru"), ("ru-RU", "ru"), ("uk", "en"), ("en", "en"), (None, "en"), ("de", "en")]
)
def test_language_from_telegram(code: str | None, lang: str) -> None:
    assert pick_language(code) == lang


@pytest.mark.parametrize(
    ("size", "limit", "shown"),
    [
        (int(7.01 * 2**20), 7 * 2**20, ("7.1 MB", "7 MB")),  # never reads as equal to the limit
        (9 * 2**20, 7 * 2**20, ("9 MB", "7 MB")),
        (600_000, 500 * 1024, ("586 KB", "500 KB")),  # a limit under 1 MB is shown in KB, and so is the size
        (700, 512, ("700 bytes", "512 bytes")),
    ],
)
def test_sizes_are_shown_in_the_unit_of_the_limit(size: int, limit: int, shown: tuple[str, str]) -> None:
    assert size_pair("en", size, limit) == shown
