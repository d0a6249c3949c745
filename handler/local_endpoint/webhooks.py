"""Webhook delivery as RunPod does it: POST the final status body; anything but 200 is tried again.

Every connection goes through the address policy (handler/address_policy.py): a webhook naming a private,
loopback or reserved address (directly or through DNS) is never connected to, and is not retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpcore

from handler.address_policy import AddressRefused, AsyncPinnedBackend, ascii_url

log = logging.getLogger("handler.local_endpoint.webhooks")


def webhook_pool(*, allow_loopback: bool) -> httpcore.AsyncConnectionPool:
    """The connections webhooks go out on: each one pinned to an address the policy allows."""
    return httpcore.AsyncConnectionPool(network_backend=AsyncPinnedBackend(allow_loopback=allow_loopback), retries=0)


async def _post(pool: httpcore.AsyncConnectionPool, url: str, body: bytes, timeout_s: float) -> int:
    headers = [(b"Content-Type", b"application/json"), (b"User-Agent", b"local-runpod-endpoint/1")]
    timeouts = {"connect": timeout_s, "read": timeout_s, "write": timeout_s, "pool": timeout_s}
    # The receiver's answer body is never read: only its status matters.
    async with pool.stream("POST", url, headers=headers, content=body, extensions={"timeout": timeouts}) as response:
        return response.status


async def deliver(
    pool: httpcore.AsyncConnectionPool,
    url: str,
    body: dict[str, Any],
    *,
    attempts: int,
    interval_s: float,
    timeout_s: float = 10.0,
) -> bool:
    """Try ``attempts`` times, ``interval_s`` apart; True once the receiver answered 200."""
    payload = json.dumps(body).encode()
    try:  # checked when submitted; spelled here as it is sent (an IDNA host, no unicode in the path)
        url = ascii_url(url, what="webhook")
    except AddressRefused as exc:
        log.warning("webhook refused", extra={"job_id": body.get("id"), "fields": {"problem": str(exc)}})
        return False
    for attempt in range(1, attempts + 1):
        try:
            status = await _post(pool, url, payload, timeout_s)
            if status == 200:
                log.info("webhook delivered", extra={"job_id": body.get("id"), "fields": {"attempt": attempt}})
                return True
            problem = f"HTTP {status}"
        except AddressRefused as exc:
            log.warning("webhook refused", extra={"job_id": body.get("id"), "fields": {"problem": str(exc)}})
            return False
        except (
            httpcore.TimeoutException,
            httpcore.NetworkError,
            httpcore.ProtocolError,
            httpcore.UnsupportedProtocol,
        ) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        log.warning(
            "webhook failed",
            extra={"job_id": body.get("id"), "fields": {"attempt": attempt, "of": attempts, "problem": problem}},
        )
        if attempt < attempts:
            await asyncio.sleep(interval_s)
    return False
