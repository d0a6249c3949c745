"""The job contract: what a RunPod job's ``input`` may hold, and what a successful job returns."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workflows.contract import JobOutput, OutputItem, OutputKind, Timings

__all__ = [
    "Delivery",
    "InputImage",
    "JobInput",
    "JobOutput",
    "OutputItem",
    "OutputKind",
    "S3Override",
    "Timings",
]


class InputImage(BaseModel):
    """An image the workflow loads by ``name`` (e.g. from a LoadImage node)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    image: str = Field(min_length=1, description="base64 (optionally a data: URL) or an https URL")


class S3Override(BaseModel):
    """Per-request storage, overriding the worker's configured bucket (RunPod's ``s3Config`` maps here too)."""

    model_config = ConfigDict(extra="forbid")

    # The bucket pattern is botocore's own; the rest are bounds no real store comes near.
    bucket: str = Field(pattern=r"^[A-Za-z0-9._-]{1,255}$")
    endpoint_url: str | None = Field(default=None, min_length=1, max_length=2048)
    region: str | None = Field(default=None, pattern=r"^[a-z0-9-]{1,64}$")
    access_key_id: str | None = Field(default=None, min_length=1, max_length=256)
    secret_access_key: str | None = Field(default=None, min_length=1, max_length=1024)
    prefix: str | None = Field(default=None, max_length=512, pattern=r"^[^\x00-\x1f\x7f]*$")

    @field_validator("prefix")
    @classmethod
    def _plain_prefix(cls, value: str | None) -> str | None:
        # Keys are written with the worker's keys when only the prefix changes: a "." or ".." segment (or a
        # backslash) is what a path-normalising store or client would resolve into another bucket.
        if value is not None and ("\\" in value or any(part in (".", "..") for part in value.split("/"))):
            raise ValueError("prefix must not contain backslashes or '.' / '..' segments")
        return value


# A graph is a few levels deep (node -> inputs -> value -> link); thousands of levels only exhaust recursion in the
# validators, deepcopy and JSON encoders after it.
MAX_NESTING = 64


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` holds dicts/lists more than ``limit`` levels deep (iterative: safe at any depth)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)
    return False


class Delivery(StrEnum):
    AUTO = "auto"  # S3 when a bucket is configured, base64 otherwise
    S3 = "s3"
    BASE64 = "base64"


class JobInput(BaseModel):
    """``input`` of a RunPod job. Either a raw API-format ``workflow`` or a named ``preset`` with ``params``."""

    model_config = ConfigDict(extra="forbid")

    workflow: dict[str, Any] | None = None
    preset: str | None = None
    params: dict[str, Any] | None = None
    images: list[InputImage] = Field(default_factory=list, max_length=16)
    s3: S3Override | None = None
    delivery: Delivery = Delivery.AUTO

    @model_validator(mode="before")
    @classmethod
    def _bounded_nesting(cls, data: Any) -> Any:
        if nested_deeper_than(data, MAX_NESTING):
            raise ValueError(f"the input is nested more than {MAX_NESTING} levels deep")
        return data

    @model_validator(mode="after")
    def _one_source(self) -> JobInput:
        if (self.workflow is None) == (self.preset is None):
            raise ValueError("give exactly one of 'workflow' or 'preset'")
        if self.params is not None and self.preset is None:
            raise ValueError("'params' belongs to a 'preset'")
        return self
