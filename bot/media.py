"""Getting a result's bytes (inline base64 or a presigned S3 URL) and a user's photo from Telegram."""

from __future__ import annotations

import base64

import httpx
from telegram import Bot

from workflows.contract import OutputItem

DOWNLOAD_TIMEOUT_S = 120.0


async def output_bytes(item: OutputItem, limit: int) -> bytes:
    """The item's content; raises ValueError when it is larger than ``limit`` or has none."""
    if item.data is not None:
        data = base64.b64decode(item.data)
    elif item.url is not None:
        async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT_S, follow_redirects=True) as client:
            response = await client.get(item.url)
            response.raise_for_status()
            data = response.content
    else:
        raise ValueError("the output has neither data nor a URL")
    if len(data) > limit:
        raise ValueError(f"the output is {len(data)} bytes, over {limit}")
    return data


async def telegram_file(bot: Bot, file_id: str) -> bytes:
    """A file a user sent (Telegram lets bots download up to 20 MB)."""
    file = await bot.get_file(file_id)
    return bytes(await file.download_as_bytearray())
