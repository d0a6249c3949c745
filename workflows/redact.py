"""Secret redaction for log lines, used by both deployables (worker and bot).

A filter on the log handler, not discipline at each call site: third-party loggers (PTB's request logging,
tornado's access log, botocore) print URLs and parameters that can carry tokens, and no review catches them all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, SecretStr

# Environment variables whose values are secrets, by name.
_SECRET_SUFFIXES = ("_TOKEN", "_SECRET", "_KEY", "_PASSWORD", "_ACCESS_KEY")
_MIN_LENGTH = 6  # shorter values would redact ordinary words


def secrets_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return [
        value for name, value in env.items() if name.upper().endswith(_SECRET_SUFFIXES) and len(value) >= _MIN_LENGTH
    ]


def secret_values(settings: BaseModel) -> list[str]:
    """The values of every SecretStr field of a settings object."""
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]


class RedactSecrets(logging.Filter):
    """Replaces every known secret in a record's final message (and exception text) with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_LENGTH}, key=len, reverse=True)

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg = self._clean(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._clean(record.exc_text)
        return True
