"""A model-free job that any worker runs in milliseconds: the smoke test printed by the main command."""

from __future__ import annotations

import json
from typing import Any


def blank_image_input(width: int = 64, height: int = 64, color: int = 0x3366CC) -> dict[str, Any]:
    """``input`` of a job whose workflow draws a solid image and saves it (EmptyImage -> SaveImage)."""
    return {
        "workflow": {
            "1": {
                "class_type": "EmptyImage",
                "inputs": {"width": width, "height": height, "batch_size": 1, "color": color},
            },
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "blank"}},
        }
    }


def curl_example(base_url: str, endpoint_id: str, *, with_key: bool) -> str:
    """A ready-to-paste /runsync call, the same for this endpoint and for RunPod."""
    auth = ' \\\n  -H "Authorization: Bearer $RUNPOD_API_KEY"' if with_key else ""
    body = json.dumps({"input": blank_image_input()}, separators=(",", ":"))
    return f"curl -s -X POST {base_url}/{endpoint_id}/runsync{auth} \\\n  -H 'Content-Type: application/json' \\\n  -d '{body}'"
