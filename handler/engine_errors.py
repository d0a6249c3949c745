"""ComfyUI's validation and execution failures, mapped to our stable error codes."""

from __future__ import annotations

from typing import Any

from handler.errors import ErrorCode, JobError
from handler.model_hints import install_hint

# Inputs that name a model file: a value missing from their list means the model is not installed.
_MODEL_INPUT_SUFFIXES = (
    "ckpt_name",
    "vae_name",
    "lora_name",
    "unet_name",
    "clip_name",
    "model_name",
    "control_net_name",
    "style_model_name",
    "upscale_model",
)


def _missing_models(node_errors: dict[str, Any]) -> list[dict[str, Any]]:
    missing = []
    for node_id, entry in node_errors.items():
        for error in entry.get("errors", []):
            extra = error.get("extra_info") or {}
            name = str(extra.get("input_name", ""))
            if error.get("type") == "value_not_in_list" and name.endswith(_MODEL_INPUT_SUFFIXES):
                missing.append({"node_id": node_id, "input": name, "file": extra.get("received_value")})
    return missing


def _compact_node_errors(node_errors: dict[str, Any]) -> dict[str, Any]:
    """node_errors without the bulky input_config option lists."""
    compact: dict[str, Any] = {}
    for node_id, entry in node_errors.items():
        compact[node_id] = {
            "class_type": entry.get("class_type"),
            "errors": [
                {key: error.get(key) for key in ("type", "message", "details")}
                | {"input_name": (error.get("extra_info") or {}).get("input_name")}
                for error in entry.get("errors", [])
            ],
        }
    return compact


def validation_error(error: dict[str, Any], node_errors: dict[str, Any]) -> JobError:
    """Turn ``validate_prompt``'s (error, node_errors) into WORKFLOW_INVALID or MODEL_MISSING."""
    missing = _missing_models(node_errors)
    if missing:
        files = ", ".join(str(item["file"]) for item in missing)
        hints = "; ".join(dict.fromkeys(install_hint(item["input"], str(item["file"])) for item in missing))
        message = f"Model file not installed on this worker: {files}. Install: {hints}."
        return JobError(ErrorCode.MODEL_MISSING, message, missing=missing)
    message = str(error.get("message") or "The workflow failed validation.")
    if error.get("details"):
        message = f"{message} {error['details']}"
    return JobError(
        ErrorCode.WORKFLOW_INVALID,
        message.strip(),
        error_type=error.get("type"),
        node_errors=_compact_node_errors(node_errors),
    )


def execution_error(data: dict[str, Any]) -> JobError:
    """Turn an ``execution_error`` event into NODE_FAILED or OUT_OF_MEMORY."""
    exc_type = str(data.get("exception_type", ""))
    exc_message = str(data.get("exception_message", "")).strip()
    details = {
        "node_id": data.get("node_id"),
        "node_type": data.get("node_type"),
        "exception_type": exc_type,
        "exception_message": exc_message[:2000],
    }
    if exc_type.endswith("SandboxViolation"):  # handler/fs_guard.py: a node touched another file than the job's
        return JobError(
            ErrorCode.INVALID_INPUT,
            f"Node {data.get('node_id')} ({data.get('node_type')}): {exc_message.splitlines()[0]}"[:500],
            field="workflow",
            **details,
        )
    if "OutOfMemory" in exc_type or "out of memory" in exc_message.lower():
        return JobError(ErrorCode.OUT_OF_MEMORY, **details)
    # Our idle-animation node and KJ's LivePortraitProcess both raise when their cropper finds no face.
    if "NoFace" in exc_type or "no face detected" in exc_message.lower():
        return JobError(ErrorCode.NO_FACE, **details)
    first_line = exc_message.splitlines()[0] if exc_message else exc_type
    return JobError(
        ErrorCode.NODE_FAILED,
        f"Node {data.get('node_id')} ({data.get('node_type')}) failed: {first_line}"[:500],
        **details,
    )
