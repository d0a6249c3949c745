# ruff: noqa: RUF001 - Russian texts are Cyrillic by design
"""A user trying everything: each kind of message, each kind of invisible prompt, plurals, languages and sizes.

Every case here slipped through once (silence, a wrong reason, a prompt the worker and the bot judged apart, a
wrong Russian form, a dot for a decimal comma); they go through the real Application and the fake Bot API."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from bot.menus import commands
from bot.runpod_client import RunPodSettings
from bot.texts import CATALOG, LANGUAGES, NOUNS, pick_language, plural, size_pair, t
from tests.bot.fake_runpod import FakeRunPod
from tests.bot.harness import Bot, running_bot
from tests.bot.photos import face_jpeg
from workflows.liveportrait import LivePortraitParams
from workflows.sdxl import PROMPT_MAX_CHARS, SdxlParams

U = 4001
OFFER_PHOTO = "Pick a motion style"
OFFER_IMAGE = "Pick the aspect ratio"


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:
    async with running_bot(redis, runpod_settings) as b:
        yield b


def media(kind: str, **extra: Any) -> dict[str, Any]:
    return {"file_id": f"{kind}-1", "file_unique_id": f"{kind}-u1"} | extra


def doc(mime: str | None, name: str | None) -> dict[str, Any]:
    fields = {"mime_type": mime, "file_name": name, "file_size": 100_000}
    return {"document": media("d", **{k: v for k, v in fields.items() if v is not None})}


async def nothing_held(bot: Bot, fake_runpod: FakeRunPod, uid: int = U) -> None:
    assert fake_runpod.runs == [] and await bot.ledger.open_jobs() == []
    assert await bot.ledger.balance(uid) == 3


# (a) documents: the type is read from the MIME type, or the extension when the type says nothing ---------------


@pytest.mark.parametrize(
    ("fields", "reply"),
    [
        (doc("application/octet-stream", "IMG_0001.JPG"), OFFER_PHOTO),  # was "A JPG file is not a photo"
        (doc("image/jpg", "a.jpg"), OFFER_PHOTO),  # was "JPG images can't be animated"
        (doc("image/pjpeg", None), OFFER_PHOTO),
        (doc(None, "face.PNG"), OFFER_PHOTO),
        (doc("IMAGE/JPEG", "x"), OFFER_PHOTO),
        (doc("application/octet-stream", "IMG_1.HEIC"), "HEIC/HEIF photos"),
        (doc("image/heif", None), "HEIC/HEIF photos"),
        (doc("application/octet-stream", "a.avif"), "AVIF images can't"),  # was "A AVIF file is not a photo"
        (doc("image/jxl", "a.jxl"), "JXL images can't"),
        (doc("image/svg+xml", "logo.svg"), "SVG images can't"),  # was "SVG+XML images"
        (doc("image/x-ms-bmp", None), "BMP images can't"),  # was "X-MS-BMP images"
        (doc("image/vnd.adobe.photoshop", "a.psd"), "PSD images can't"),  # was "VND.ADOBE.PHOTOSHOP"
        (doc("image/tiff", "scan.TIF"), "TIFF images can't"),
        (doc("image/gif", "a.gif"), "GIFs and animations can't"),
        (doc("application/octet-stream", "x.GIF"), "GIFs and animations can't"),
        (doc("video/quicktime", "IMG.MOV"), "not from videos"),  # was "A MOV file is not a photo"
        (doc("audio/mpeg", "a.mp3"), "voice or audio"),
        (doc("application/pdf", "cv.pdf"), "This file (PDF) is not a photo"),
        (doc("application/x-tar", None), "This file (TAR) is not a photo"),
        (doc(None, None), "This file is not a photo I can read"),  # was "A ? file is not a photo"
        (doc("application/octet-stream", "README"), "This file is not a photo I can read"),
    ],
)
async def test_every_document_gets_a_fitting_answer(
    bot: Bot, fake_runpod: FakeRunPod, fields: dict[str, Any], reply: str
) -> None:
    await bot.users.send_raw(U, **fields)
    assert reply in bot.telegram.last_text(U)
    await nothing_held(bot, fake_runpod)


HEIC_BYTES = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)


@pytest.mark.parametrize(
    ("content", "reply"),
    [
        (face_jpeg(), OFFER_PHOTO),  # was "This file is not a photo": the bytes are a JPEG
        (HEIC_BYTES, "HEIC/HEIF photos"),
        (b"%PDF-1.7\n" + bytes(64), "This file (PDF) is not a photo"),
        (b"\x00\x00\x00\x18ftypisom" + bytes(64), "not from videos"),
        (b"plain text", "This file is not a photo I can read"),
    ],
)
async def test_a_file_without_type_or_extension_is_judged_by_its_content(
    bot: Bot, fake_runpod: FakeRunPod, content: bytes, reply: str
) -> None:
    bot.telegram.files["raw-1"] = content
    document = media("raw", mime_type="application/octet-stream", file_name="photo", file_size=len(content))
    await bot.users.send_raw(U, document=document)
    assert reply in bot.telegram.last_text(U)
    await nothing_held(bot, fake_runpod)


async def test_a_heic_named_jpg_is_called_heic_not_unreadable(bot: Bot, fake_runpod: FakeRunPod) -> None:
    pytest.importorskip("mediapipe")  # the bot's face check decodes it (and fails): the bytes say why
    bot.telegram.files["lie-1"] = HEIC_BYTES
    await bot.users.send_raw(U, document=media("lie", mime_type="image/jpeg", file_name="IMG_0001.JPG"))
    assert "HEIC/HEIF photos" in bot.telegram.last_text(U)
    await nothing_held(bot, fake_runpod)


# (a) every other kind of message: a specific reply, never silence ------------------------------------------------

LOCATION = {"latitude": 55.75, "longitude": 37.61}
POLL = {
    "id": "p1",
    "question": "?",
    "options": [{"text": "a", "voter_count": 0, "persistent_id": "o1"}],
    "total_voter_count": 0,
    "is_closed": False,
    "is_anonymous": True,
    "type": "regular",
    "allows_multiple_answers": False,
    "allows_revoting": False,
    "members_only": False,
}
KINDS: list[tuple[dict[str, Any], str, str]] = [
    ({"contact": {"phone_number": "+10000000000", "first_name": "A"}}, "That's a contact", "Это контакт"),
    ({"location": LOCATION}, "location or a place", "Геопозицию"),
    ({"venue": {"location": LOCATION, "title": "t", "address": "a"}, "location": LOCATION}, "a place", "места"),
    ({"poll": POLL}, "Polls and checklists", "Опросы"),
    ({"checklist": {"title": "t", "tasks": [{"id": 1, "text": "x"}]}}, "Polls and checklists", "списки"),
    ({"dice": {"emoji": "🎲", "value": 3}}, "🎲 Nice one", "🎲 Неплохо"),
    ({"dice": {"emoji": "🎯", "value": 6}}, "🎯 Nice one", "🎯 Неплохо"),
    ({"story": {"chat": {"id": 5, "type": "private"}, "id": 1}}, "I can't open stories", "Истории"),
    ({"paid_media": {"star_count": 5, "paid_media": [{"type": "preview"}]}}, "paid media", "Платные медиа"),
    (
        {"sticker": media("s", width=512, height=512, type="regular", is_animated=True, is_video=False)},
        "Stickers can't",
        "Стикеры",
    ),
    (
        {"sticker": media("s", width=512, height=512, type="regular", is_animated=False, is_video=True)},
        "Stickers can't",
        "Стикеры",
    ),
    ({"video_note": media("vn", length=240, duration=3), "caption": "smile"}, "round video", "Круглое"),
    ({"video": media("v", width=640, height=480, duration=5), "caption": "a fox"}, "not from videos", "не из видео"),
    ({"audio": media("a", duration=3), "caption": "song"}, "voice or audio", "Голос и аудио"),
    ({"voice": media("vo", duration=2)}, "voice or audio", "Голос и аудио"),
]


@pytest.mark.parametrize(("fields", "en", "ru"), KINDS)
async def test_every_kind_of_message_gets_its_own_reason(
    bot: Bot, fake_runpod: FakeRunPod, fields: dict[str, Any], en: str, ru: str
) -> None:
    await bot.users.send_raw(U, **fields)
    assert en in bot.telegram.last_text(U)
    await bot.users.send_raw(U + 1, lang="ru", **fields)
    assert ru in bot.telegram.last_text(U + 1)
    await nothing_held(bot, fake_runpod)


def sizes(file_id: str) -> list[dict[str, Any]]:
    return [{"file_id": file_id, "file_unique_id": file_id, "width": 1280, "height": 1280, "file_size": 50_000}]


async def test_a_sticker_or_voice_while_a_prompt_is_awaited_asks_for_words(bot: Bot, fake_runpod: FakeRunPod) -> None:
    await bot.users.send(U, "/imagine")
    await bot.users.send_raw(
        U, sticker=media("s", width=512, height=512, type="regular", is_animated=False, is_video=False)
    )
    assert bot.telegram.last_text(U).startswith(
        "I'm waiting for the prompt as text"
    )  # was "Stickers can't be animated"
    await bot.users.send_raw(U, voice=media("vo", duration=2))
    assert bot.telegram.last_text(U).startswith("I'm waiting for the prompt as text")
    await bot.users.send(U, "🔥")
    assert OFFER_IMAGE in bot.telegram.last_text(U)
    await nothing_held(bot, fake_runpod)


async def test_an_album_gets_one_offer_and_one_note_not_one_per_photo(bot: Bot, fake_runpod: FakeRunPod) -> None:
    bot.telegram.files["al-1"] = face_jpeg()
    for i in range(4):
        await bot.users.send_raw(U, photo=sizes(f"al-{i + 1}"), media_group_id="album-1")
    texts = bot.telegram.texts(U)
    assert len(texts) == 2 and OFFER_PHOTO in texts[0]
    assert texts[1] == "I animate one photo at a time: I took the first photo of the album."
    for i in range(3):  # an album of videos: one refusal, not three
        await bot.users.send_raw(U, video=media(f"v{i}", width=1, height=1, duration=1), media_group_id="album-2")
    assert len(bot.telegram.texts(U)) == 3
    await nothing_held(bot, fake_runpod)


async def test_a_live_photo_is_animated_from_its_still(bot: Bot, fake_runpod: FakeRunPod) -> None:
    bot.telegram.files["lp"] = face_jpeg()
    live = media("lpv", width=1280, height=1280, duration=2, photo=sizes("lp"))
    await bot.users.send_raw(U, live_photo=live)
    assert OFFER_PHOTO in bot.telegram.last_text(U)
    await nothing_held(bot, fake_runpod)


async def test_a_forwarded_photo_is_a_photo(bot: Bot, fake_runpod: FakeRunPod) -> None:
    bot.telegram.files["fw"] = face_jpeg()
    origin = {"type": "hidden_user", "sender_user_name": "Someone", "date": 1}
    await bot.users.send_raw(U, photo=sizes("fw"), forward_origin=origin, caption="cheerful")
    assert OFFER_PHOTO in bot.telegram.last_text(U)
    assert any(text.startswith("✓ ") and "Cheerful" in text for text, _ in bot.telegram.last_buttons(U))


async def test_edited_messages_are_answered_like_new_ones(bot: Bot, fake_runpod: FakeRunPod) -> None:
    async def edited(**fields: Any) -> None:
        message = bot.users._base_message(U, "en") | {"edit_date": 2} | fields
        await bot.users.feed({"edited_message": message})

    entity = [{"type": "bot_command", "offset": 0, "length": 8}]
    await edited(text="/imagine a red fox", entities=entity)
    assert OFFER_IMAGE in bot.telegram.last_text(U)
    await edited(sticker=media("s", width=512, height=512, type="regular", is_animated=False, is_video=False))
    assert "Stickers can't" in bot.telegram.last_text(U)
    assert not any("went wrong" in text for text in bot.telegram.texts(U))
    await nothing_held(bot, fake_runpod)


async def test_a_channel_post_is_ignored_not_a_crash(bot: Bot, fake_runpod: FakeRunPod) -> None:
    """Channel posts carry no user: they used to fail an assertion in every handler and alert the admins."""
    post = {"message_id": 5, "date": 1, "chat": {"id": -100, "type": "channel", "title": "c"}}
    await bot.users.feed({"channel_post": post | {"text": "hello"}})
    await bot.users.feed({"channel_post": post | {"photo": sizes("ch")}})
    await bot.users.feed({"edited_channel_post": post | {"text": "/imagine a fox", "edit_date": 2}})
    assert bot.telegram.sent("sendMessage") == [] and fake_runpod.runs == []


async def test_a_caption_with_control_characters_still_picks_the_motion_style(bot: Bot) -> None:
    bot.telegram.files["cc"] = face_jpeg()
    await bot.users.send_raw(U, photo=sizes("cc"), caption="\x07smiling\x1b\u200b")
    assert any(text.startswith("✓ ") and "Cheerful" in text for text, _ in bot.telegram.last_buttons(U))


def png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("size", "lang", "reply"),
    [
        # each was "I couldn't read this photo"
        ((100, 90), "en", "This photo is too small (100x90 px); a face needs at least 128 px on the shorter side."),
        ((100, 90), "ru", "Фото слишком маленькое (100x90 пикс.); для лица нужно не меньше 128 пикс."),
        ((1000, 200), "en", "This photo's shape (1000x200 px) is too long and narrow."),
        (
            (8000, 6000),
            "en",
            "This photo has too many pixels (8000x6000 px (48 MP)). Please send one of at most 40 MP.",
        ),
        (
            (8000, 6001),
            "ru",
            "В фото слишком много пикселей (8000x6001 пикс. (48,1 Мп)). Отправьте, пожалуйста, не больше 40 Мп.",
        ),
    ],
)
async def test_the_face_check_verdict_names_the_size_and_its_limit(
    bot: Bot, fake_runpod: FakeRunPod, size: tuple[int, int], lang: str, reply: str
) -> None:
    pytest.importorskip("mediapipe")
    bot.telegram.files["pic-1"] = png(*size)
    document = media("pic", mime_type="image/png", file_name="pic.png", file_size=len(bot.telegram.files["pic-1"]))
    await bot.users.send_raw(U, lang=lang, document=document)
    assert reply in bot.telegram.last_text(U)
    await nothing_held(bot, fake_runpod)


# (b) prompts: one definition (workflows.text) for the preset and the bot --------------------------------------

BLANK = [
    "\u200b\u200c\u200d\u2060\ufeff",  # zero-width characters
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c",  # bidi controls
    "\ufe0f\ufe0e",  # variation selectors
    "\U000e0100\U000e01ef",  # variation selectors supplement (was accepted)
    "\u0301\u0308",  # combining marks without a letter (was accepted)
    "\u20e3",  # an enclosing mark alone (was accepted)
    "\u3164\u115f\u1160\uffa0",  # Hangul fillers
    "\u2800",  # braille blank
    "\u17b4\u17b5",  # Khmer inherent vowels (was accepted)
    "\u180b\u180e",  # Mongolian selector and vowel separator
    "\U000e0041\U000e007f",  # tag characters
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000",
    "\u2028\u2029\u0085\u000b\u000c",  # line and paragraph separators, NEL, vertical tab, form feed
    "\x07\x1b",  # control characters only
    "\u00ad\u034f",  # soft hyphen, combining grapheme joiner
]
VALID = [
    "🔥",
    "❤️",
    "👨\u200d👩\u200d👧",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "🇺🇦",
    "\U0001fae8",
]


@pytest.mark.parametrize("prompt", BLANK)
async def test_an_invisible_prompt_is_refused_by_the_bot_and_the_preset_alike(bot: Bot, prompt: str) -> None:
    await bot.users.send(U, "/imagine")
    await bot.users.send(U, prompt)
    assert "has no visible text" in bot.telegram.last_text(U)
    assert bot.telegram.last_buttons(U) == []
    with pytest.raises(ValidationError):
        SdxlParams(prompt=prompt)
    try:  # the motion prompt is optional: nothing visible means none (control characters are refused)
        assert LivePortraitParams(photo="x", prompt=prompt).prompt is None
    except ValidationError as exc:
        assert "control characters" in str(exc)


@pytest.mark.parametrize("prompt", VALID)
async def test_an_emoji_only_prompt_is_a_prompt(bot: Bot, prompt: str) -> None:
    await bot.users.send(U, f"/imagine {prompt}")
    assert OFFER_IMAGE in bot.telegram.last_text(U)
    assert SdxlParams(prompt=prompt).prompt == prompt


async def test_windows_newlines_are_ordinary_text(bot: Bot) -> None:
    await bot.users.send(U, "/imagine")
    await bot.users.send(U, "a red fox\r\nin the snow")  # was "can't be used"
    assert "«a red fox\nin the snow»" in bot.telegram.last_text(U)


async def test_control_characters_inside_a_prompt_are_named(bot: Bot) -> None:
    await bot.users.send(U, "/imagine a fox\x07")
    assert "contains control characters" in bot.telegram.last_text(U)
    with pytest.raises(ValidationError, match="control characters"):
        SdxlParams(prompt="a fox\x07")


async def test_the_length_limit_counts_the_normalised_prompt_in_both_places(bot: Bot) -> None:
    padded = "a" * PROMPT_MAX_CHARS + "\u200b" * 20 + "\u202e"  # invisible padding is not counted
    assert SdxlParams(prompt=padded).prompt == "a" * PROMPT_MAX_CHARS
    await bot.users.send(U, f"/imagine {padded}")
    assert OFFER_IMAGE in bot.telegram.last_text(U)
    await bot.users.send(U, "/imagine " + "b" * (PROMPT_MAX_CHARS + 1) + "\u200b" * 5)
    assert bot.telegram.last_text(U) == (
        "That prompt is too long: 1001 characters, the limit is 1000 characters. Please shorten it."
    )
    await bot.users.send(U + 1, "/imagine " + "б" * (PROMPT_MAX_CHARS + 1), lang="ru")
    assert "1001 символ, а предел — 1000 символов" in bot.telegram.last_text(U + 1)


def test_bot_and_preset_agree_on_every_mix_of_the_hard_characters() -> None:
    import random

    from bot.inputs import is_blank
    from bot.job_input import clean_prompt
    from workflows.text import control_problem

    pool = "".join(BLANK) + "".join(VALID) + "a\u0301\r\n\t é\x07\ud800"
    rng = random.Random(12)
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 6)))
        try:
            preset = SdxlParams(prompt=text).prompt
        except ValidationError:
            preset = None
        assert clean_prompt(text) == preset, repr(text)
        if is_blank(text):  # nothing the bot calls empty reaches the worker ...
            assert preset is None, repr(text)
        elif control_problem(text.replace("\r", "")) is None:  # ... and everything else visible is a prompt to both
            assert preset, repr(text)


def test_every_reason_the_inputs_module_gives_has_a_text() -> None:
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "bot" / "inputs.py").read_text()
    keys = set(re.findall(r"\"((?:input|imagine|not_a|album)_?[a-z_]*)\"", source))
    assert keys and keys <= set(CATALOG), keys - set(CATALOG)


# (c) plurals and languages --------------------------------------------------------------------------------------

RU_FORM = {0: "many", 1: "one", 2: "few", 3: "few", 4: "few", 5: "many", 11: "many", 12: "many", 14: "many"}
RU_FORM |= {21: "one", 22: "few", 25: "many", 101: "one", 111: "many"}
RU_WORDS = {
    "credits": {"one": "кредит", "few": "кредита", "many": "кредитов"},
    "results": {"one": "результат", "few": "результата", "many": "результатов"},
    "requests": {"one": "запрос", "few": "запроса", "many": "запросов"},
    "seconds": {"one": "секунда", "few": "секунды", "many": "секунд"},
    "characters": {"one": "символ", "few": "символа", "many": "символов"},
    "steps": {"one": "шаг", "few": "шага", "many": "шагов"},
}


@pytest.mark.parametrize("count", sorted(RU_FORM))
def test_every_russian_count_bearing_text_takes_the_right_form(count: int) -> None:
    assert set(RU_WORDS) == set(NOUNS)
    for noun, words in RU_WORDS.items():
        assert plural("ru", noun, count) == f"{count} {words[RU_FORM[count]]}"
    for key, entry in CATALOG.items():
        specs = [(name, spec) for name, spec in _fields(entry["ru"]) if spec in NOUNS]
        if specs:
            text = t("ru", key, **{name: count for name, _ in _fields(entry["ru"])})
            for _, spec in specs:
                assert f"{count} {RU_WORDS[spec][RU_FORM[count]]}" in text, key


def _fields(text: str) -> list[tuple[str, str]]:
    import string

    return [(name, spec or "") for _, name, spec, _ in string.Formatter().parse(text) if name]


def test_a_fraction_is_written_as_the_language_writes_it() -> None:
    assert plural("ru", "credits", 1.5) == "1,5 кредита" and plural("en", "credits", 1.5) == "1.5 credits"


def test_one_step_is_not_one_steps() -> None:
    assert t("en", "caption_steps", steps=1, cfg=6.5) == "1 step, CFG 6.5"  # was "1 steps"
    assert t("ru", "caption_steps", steps=22, cfg=6.5) == "22 шага, CFG 6.5"


def test_no_number_is_glued_to_a_counted_noun_anywhere() -> None:
    import re

    glued = re.compile(r"\{\w+\} ?(character|символ|step|шаг|credit|кредит|result|результат|second|секунд)", re.I)
    assert [key for key, entry in CATALOG.items() for text in entry.values() if glued.search(text)] == []


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("ru_RU", "ru"),  # was English
        ("RU", "ru"),
        (" ru ", "ru"),
        ("be", "ru"),
        ("kk", "ru"),
        ("ky", "ru"),
        ("uk", "en"),  # decided: English, with /language one tap away (docs/bot.md)
        ("pt-br", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_language_codes_fall_back_sensibly(code: str | None, lang: str) -> None:
    assert pick_language(code) == lang


async def test_the_menu_speaks_the_language_the_bot_answers_in(bot: Bot) -> None:
    menus = {c.get("language_code"): c.get("commands") for c in bot.telegram.sent("setMyCommands")}
    for code, raw in menus.items():
        items = json.loads(raw) if isinstance(raw, str) else raw
        expected = commands(pick_language(code))
        assert [(i["command"], i["description"]) for i in items] == [(c.command, c.description) for c in expected]
    assert {pick_language(code) for code in menus} == set(LANGUAGES)
    await bot.users.send(U, "/start", lang="be")  # a Belarusian client: a Russian reply, and a Russian menu ("be")
    assert "Привет" in bot.telegram.last_text(U) and "be" in menus


# (d) sizes: in the unit of the limit, with the language's decimal separator ------------------------------------


def test_sizes_use_the_languages_decimal_separator() -> None:
    assert size_pair("ru", int(7.01 * 2**20), 7 * 2**20) == ("7,1 МБ", "7 МБ")  # was "7.1 МБ"
    assert size_pair("en", 52_428_800, 50_000_000) == ("52.5 MB", "50 MB")  # Telegram's upload limit is decimal
    assert size_pair("ru", 52_428_800, 50_000_000) == ("52,5 МБ", "50 МБ")
    assert size_pair("de", 1500, 1024) == ("1.5 KB", "1 KB")  # other languages read English


async def test_a_photo_too_big_in_russian(bot: Bot, fake_runpod: FakeRunPod) -> None:
    too_big = [{"file_id": "b", "file_unique_id": "b", "width": 2000, "height": 2000, "file_size": 7_500_000}]
    await bot.users.send_raw(U, lang="ru", photo=too_big)
    assert bot.telegram.last_text(U) == "Фото слишком большое (7,2 МБ). Отправьте, пожалуйста, не больше 7 МБ."
    await nothing_held(bot, fake_runpod)
