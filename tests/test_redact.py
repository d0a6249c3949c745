"""Secrets never reach a log line, whichever logger prints them."""

from __future__ import annotations

import io
import logging

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from workflows.redact import RedactingFormatter, secret_values, secrets_from_env


class _Settings(BaseSettings):
    token: SecretStr = SecretStr("123456:telegram-token")
    name: str = "not secret"


def _render(secrets: list[str], *args: object, exc: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(logging.Formatter("%(message)s %(token)s"), secrets))
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exc:
            try:
                raise RuntimeError("failed calling https://api.telegram.org/bot123456:telegram-token/getMe")
            except RuntimeError:
                logger.exception("request to %s failed", *args, extra={"token": "-"})
        else:
            logger.warning("POST /runpod/%s/job-1 %s", *args, extra={"token": "123456:telegram-token"})
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_secret_in_arguments_extras_and_tracebacks_is_masked() -> None:
    secrets = secret_values(_Settings())
    assert secrets == ["123456:telegram-token"]
    line = _render(secrets, "123456:telegram-token", "200")
    assert "telegram-token" not in line and "POST /runpod/***/job-1 200 ***" in line
    text = _render(secrets, "bot123456:telegram-token", exc=True)
    assert "telegram-token" not in text and "RuntimeError" in text


def test_environment_secrets_are_found_by_name() -> None:
    env = {"S3_SECRET_ACCESS_KEY": "abcdef123", "RUNPOD_API_KEY": "rp_xyz123", "LOG_LEVEL": "DEBUG", "X_KEY": "abc"}
    assert sorted(secrets_from_env(env)) == ["abcdef123", "rp_xyz123"]
