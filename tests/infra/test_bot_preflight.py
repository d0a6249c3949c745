"""The bot stops at start-up with a clear message when its deployment settings are incomplete.

Runs ``python -m bot`` as the bot image does: a folder holding only what Dockerfile.bot copies (bot/,
workflows/, pyproject.toml), so there is no handler package and no local endpoint to start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import preflight
from bot.settings import BotSettings
from handler.settings import REPO_ROOT


@pytest.fixture
def bot_image_app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    for folder in ("bot", "workflows"):
        shutil.copytree(REPO_ROOT / folder, app / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", app)
    return app


def start_bot(app: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "TELEGRAM_", "REDIS_", "PUBLIC_"))}
    clean |= {"PYTHONPATH": str(app), "TELEGRAM_BOT_TOKEN": "123:fake", "REDIS_URL": "redis://127.0.0.1:1/0"}
    return subprocess.run(
        [sys.executable, "-m", "bot"], cwd=app, env=clean | env, capture_output=True, text=True, timeout=60
    )


def test_no_endpoint_id_in_the_bot_image_stops_without_starting_a_local_endpoint(bot_image_app: Path) -> None:
    result = start_bot(bot_image_app)
    assert result.returncode == 1
    assert "RUNPOD_ENDPOINT_ID is not set and this image has no local endpoint" in result.stderr
    assert "handler.local_endpoint" not in result.stderr  # no attempt to start it


def test_endpoint_id_without_api_key_stops_with_the_missing_name(bot_image_app: Path) -> None:
    result = start_bot(bot_image_app, RUNPOD_ENDPOINT_ID="abc123")
    assert result.returncode == 1
    assert "RUNPOD_ENDPOINT_ID is set but RUNPOD_API_KEY is not" in result.stderr


def test_the_dockerfile_ships_no_handler_package() -> None:
    text = (REPO_ROOT / "Dockerfile.bot").read_text()
    assert "COPY bot/ bot/" in text
    assert "handler" not in "".join(line for line in text.splitlines() if line.startswith("COPY"))


def test_public_url_without_the_telegram_secret_stops_instead_of_polling(bot_image_app: Path) -> None:
    result = start_bot(
        bot_image_app, RUNPOD_ENDPOINT_ID="abc123", RUNPOD_API_KEY="k", PUBLIC_URL="https://bot.example.com"
    )
    assert result.returncode == 1
    assert "PUBLIC_URL is set but TELEGRAM_WEBHOOK_SECRET is not" in result.stderr


def test_webhook_settings_telegram_would_refuse_are_named(bot_image_app: Path) -> None:
    result = start_bot(
        bot_image_app, RUNPOD_ENDPOINT_ID="abc123", RUNPOD_API_KEY="k", PUBLIC_URL="http://bot.example.com",
        TELEGRAM_WEBHOOK_SECRET="has spaces!", RUNPOD_WEBHOOK_SECRET="a/b",
    )  # fmt: skip
    assert result.returncode == 1
    assert "PUBLIC_URL must start with https://" in result.stderr
    assert "TELEGRAM_WEBHOOK_SECRET may hold only A-Z a-z 0-9 _ -" in result.stderr
    assert "RUNPOD_WEBHOOK_SECRET may hold only" in result.stderr
    assert "has spaces!" not in result.stderr  # the secret itself is not echoed


def test_an_invalid_setting_is_one_message_not_a_traceback(bot_image_app: Path) -> None:
    result = start_bot(bot_image_app, RUNPOD_ENDPOINT_ID="abc123", RUNPOD_API_KEY="k", ADMIN_IDS="me")
    assert result.returncode == 1
    assert "invalid bot settings" in result.stderr and "admin_ids" in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_an_empty_runpod_webhook_secret_turns_runpod_webhooks_off(tmp_path: Path) -> None:
    # bot.env as copied from deploy/bot.env.example, with webhook mode on but RUNPOD_WEBHOOK_SECRET left empty:
    # no callback URL ending in /runpod//<job> that the receiver cannot match (jobs would wait for the slow poll).
    env_file = tmp_path / "bot.env"
    text = (REPO_ROOT / "deploy" / "bot.env.example").read_text()
    env_file.write_text(
        text.replace("PUBLIC_URL=\n", "PUBLIC_URL=https://bot.example.com\n").replace(
            "TELEGRAM_WEBHOOK_SECRET=\n", "TELEGRAM_WEBHOOK_SECRET=tg-secret\n"
        )
    )
    settings = BotSettings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.public_url == "https://bot.example.com"
    assert settings.runpod_webhook_url is None
    assert preflight.webhook_problems(settings) == []
