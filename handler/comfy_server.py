"""A stand-in for ComfyUI's PromptServer: the execution engine reports through it, nothing listens on a port.

ComfyUI's execution only uses ``client_id``, ``last_node_id``, ``last_prompt_id``, ``sockets_metadata``,
``send_sync`` and ``send_progress_text``; custom node packs also decorate routes on ``routes`` at import time.
Registered as the ``server`` module so ``from server import PromptServer`` in any node finds it.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

EventSink = Callable[[str, Any], None]


class _Routes:
    """Accepts aiohttp-style route decorators from custom nodes and drops them (no HTTP server here)."""

    def _decorator(self, *_args: Any, **_kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return lambda handler: handler

    get = post = put = patch = delete = head = route = view = _decorator

    def static(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class EngineServer:
    """Receives ComfyUI's execution events and forwards them to one sink (the engine)."""

    instance: EngineServer | None = None

    def __init__(self, sink: EventSink) -> None:
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self.last_prompt_id: str | None = None
        self.sockets_metadata: dict[str, Any] = {}
        self.routes = _Routes()
        self.supports = {"custom_nodes_from_web"}
        self._sink = sink

    def send_sync(self, event: str, data: Any, sid: str | None = None) -> None:
        self._sink(event, data)

    def send_progress_text(self, text: str, node_id: str, sid: str | None = None) -> None:
        self._sink("progress_text", {"node": node_id, "text": text})

    def add_on_prompt_handler(self, handler: Callable[..., Any]) -> None:
        return None


def install(server: EngineServer) -> None:
    """Make ``server.PromptServer.instance`` this object for every importer, ours included."""
    module = types.ModuleType("server")
    module.PromptServer = EngineServer  # type: ignore[attr-defined]
    EngineServer.instance = server
    sys.modules["server"] = module
