""".env.example documents every setting of every deployable (the README sends newcomers there)."""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from bot.runpod_client import RunPodSettings
from bot.settings import BotSettings
from handler.local_endpoint.settings import EndpointSettings
from handler.settings import REPO_ROOT, WorkerSettings

EXAMPLE = (REPO_ROOT / ".env.example").read_text()


@pytest.mark.parametrize("settings", [WorkerSettings, EndpointSettings, BotSettings, RunPodSettings])
def test_every_setting_is_documented(settings: type[BaseSettings]) -> None:
    prefix = str(settings.model_config.get("env_prefix") or "")
    names = [(prefix + name).upper() for name in settings.model_fields]
    missing = [name for name in names if name not in EXAMPLE]
    assert not missing, f"add to .env.example: {missing}"
