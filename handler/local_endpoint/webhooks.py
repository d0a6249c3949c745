"""Webhook delivery as RunPod does it: POST the final status body; anything but 200 is tried again."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

log = logging.getLogger("handler.local_endpoint.webhooks")


async def deliver(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], *, attempts: int, interval_s: float
) -> bool:
    """Try ``attempts`` times, ``interval_s`` apart; True once the receiver answered 200."""
    for attempt in range(1, attempts + 1):
        try:
            response = await client.post(url, json=body)
            if response.status_code == 200:
                log.info("webhook delivered", extra={"job_id": body.get("id"), "fields": {"attempt": attempt}})
                return True
            problem = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        log.warning(
            "webhook failed",
            extra={"job_id": body.get("id"), "fields": {"attempt": attempt, "of": attempts, "problem": problem}},
        )
        if attempt < attempts:
            await asyncio.sleep(interval_s)
    return False
