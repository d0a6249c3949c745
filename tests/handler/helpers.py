from __future__ import annotations

import base64
import io
import json
import uuid
from typing import Any

from PIL import Image

from workflows.contract import ErrorInfo, JobOutput, parse_error


async def run_job(worker: Any, job_input: dict[str, Any], job_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return dict(await worker.handle({"id": job_id or uuid.uuid4().hex[:12], "input": job_input, **extra}))


def ok(result: dict[str, Any]) -> JobOutput:
    assert "error" not in result, json.loads(result["error"])
    return JobOutput.model_validate(result)


def failed(result: dict[str, Any]) -> ErrorInfo:
    assert "error" in result, result
    return parse_error(result["error"])


def png(data_b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(data_b64)))
    assert image.format == "PNG"
    return image


def b64_image(image: Image.Image, fmt: str = "PNG", **save: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return base64.b64encode(buffer.getvalue()).decode()
