"""Secret redaction for log lines, used by both deployables (worker and bot).

A formatter around the log handler's formatter, not discipline at each call site: third-party loggers (PTB's request logging,
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


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner``, then replaces every known secret in the finished line with ``***``.

    Working on the finished line covers the message, its arguments, structured extras and tracebacks alike,
    whatever the inner formatter does with them.
    """

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self._inner = inner
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_LENGTH}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._inner.format(record), self._secrets)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (of at least the minimum length; longest first) replaced by ``***``."""
    for secret in sorted({s for s in secrets if len(s) >= _MIN_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
