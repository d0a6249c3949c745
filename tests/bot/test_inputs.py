# ruff: noqa: RUF001 - Russian texts are Cyrillic by design
"""Every kind of message a user can send gets a specific answer; nothing unusable holds credits; menus per language."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.runpod_client import RunPodSettings
from tests.bot.fake_runpod import FakeRunPod
from tests.bot.harness import Bot, running_bot

U = 3001


@pytest.fixture
async def bot(redis: Redis, runpod_settings: RunPodSettings) -> AsyncIterator[Bot]:
    async with running_bot(redis, runpod_settings) as b:
        yield b


def media(kind: str, **extra: Any) -> dict[str, Any]:
    return {"file_id": f"{kind}-1", "file_unique_id": f"{kind}-u1"} | extra


@pytest.mark.parametrize(
    ("fields", "en", "ru"),
    [
        (
            {"video_note": media("vn", length=240, duration=3)},
            "I can't animate a round video message",
            "Круглое видеосообщение оживить нельзя",
        ),
        (
            {
                "animation": media("gif", width=200, height=200, duration=2),
                "document": media("gif", mime_type="video/mp4"),
            },
            "GIFs and animations can't be animated again",
            "GIF и анимации оживить нельзя",
        ),
        ({"video": media("v", width=640, height=480, duration=5)}, "not from videos", "а не из видео"),
        (
            {"sticker": media("st", width=512, height=512, type="regular", is_animated=False, is_video=False)},
            "Stickers can't be animated",
            "Стикеры оживить нельзя",
        ),
        ({"voice": media("vo", duration=2)}, "I don't work with voice or audio", "Голос и аудио"),
        (
            {"document": media("d", mime_type="image/heic", file_name="IMG_0001.HEIC", file_size=2_000_000)},
            "HEIC/HEIF photos (iPhone's format)",
            "Фото в формате HEIC/HEIF",
        ),
        (
            {"document": media("d", mime_type="application/octet-stream", file_name="IMG_0002.heif")},
            "HEIC/HEIF photos",
            "HEIC/HEIF",
        ),
        ({"document": media("d", mime_type="image/tiff", file_name="scan.tif")}, "TIFF images can't", "Картинки TIFF"),
        (
            {"document": media("d", mime_type="application/zip", file_name="a.zip")},
            "This file (ZIP) is not a photo",
            "ZIP",
        ),
    ],
)
async def test_each_unusable_input_gets_its_own_reason_in_both_languages(
    bot: Bot, fake_runpod: FakeRunPod, fields: dict[str, Any], en: str, ru: str
) -> None:
    await bot.users.send_raw(U, **fields)
    assert en in bot.telegram.last_text(U)
    await bot.users.send_raw(U + 1, lang="ru", **fields)
    assert ru in bot.telegram.last_text(U + 1)
    assert fake_runpod.runs == [] and await bot.ledger.open_jobs() == []
    assert await bot.ledger.balance(U) == 3


async def test_a_photo_too_small_for_a_face_says_so_in_pixels(bot: Bot) -> None:
    sizes = [{"file_id": "t", "file_unique_id": "t", "width": 120, "height": 90, "file_size": 5000}]
    await bot.users.send_raw(U, photo=sizes)
    assert bot.telegram.last_text(U) == (
        "This photo is too small (120x90 px); a face needs at least 128 px on the shorter side."
    )


@pytest.mark.parametrize(
    "prompt",
    ["\u200b", "\u200b\u200c\u200d\u2060\ufeff", " \u3000\u00a0 ", "\u2800\u3164", "\u200e\u200f\u202e", "\ufe0f"],
)
async def test_a_prompt_of_only_invisible_characters_is_refused(bot: Bot, prompt: str) -> None:
    await bot.users.send(U, f"/imagine {prompt}")
    if prompt.strip():  # (ordinary whitespace after the command is nothing: the bot asks for the prompt)
        assert "has no visible text" in bot.telegram.last_text(U)
    assert bot.telegram.last_buttons(U) == []  # no price offer, nothing to tap
    await bot.users.send(U, "/imagine")
    await bot.users.send(U, prompt)  # the prompt typed after the command too
    assert "has no visible text" in bot.telegram.last_text(U)


async def test_a_prompt_with_invisible_characters_around_words_is_accepted(bot: Bot) -> None:
    await bot.users.send(U, "/imagine \u200ba red fox\u200b")
    assert "Pick the aspect ratio" in bot.telegram.last_text(U)


async def test_command_menus_in_every_language(bot: Bot) -> None:
    menus = {c.get("language_code"): c.get("commands") for c in bot.telegram.sent("setMyCommands")}
    # the default (English, and every other language), Russian, and the languages answered in Russian
    assert set(menus) == {None, "ru", "be", "kk", "ky"}

    def descriptions(raw: Any) -> dict[str, str]:
        items = json.loads(raw) if isinstance(raw, str) else raw
        return {item["command"]: item["description"] for item in items}

    en, ru = descriptions(menus[None]), descriptions(menus["ru"])
    assert en["imagine"] == "Generate an image" and ru["imagine"] == "Создать картинку"
    assert set(en) == set(ru) >= {"imagine", "animate", "settings", "history", "balance", "buy", "cancel"}
