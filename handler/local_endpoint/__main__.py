"""``python -m handler.local_endpoint``: RunPod's queue API on this machine, backed by the real worker."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from handler import logs
from handler.local_endpoint.examples import curl_example
from handler.local_endpoint.server import EndpointServer
from handler.local_endpoint.settings import EndpointSettings
from handler.settings import WorkerSettings


def _parse(argv: list[str] | None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m handler.local_endpoint", description=__doc__)
    parser.add_argument("--host", help="address to listen on (LOCAL_ENDPOINT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (LOCAL_ENDPOINT_PORT, default 8000; 0 picks a free one)")
    parser.add_argument("--workers", type=int, help="worker processes (LOCAL_ENDPOINT_WORKERS, default one per device)")
    parser.add_argument("--endpoint-id", help="the id in /v2/<id>/... (LOCAL_ENDPOINT_ENDPOINT_ID, default 'local')")
    return {key: value for key, value in vars(parser.parse_args(argv)).items() if value is not None}


async def _serve(server: EndpointServer) -> None:
    serving = asyncio.create_task(server.serve())
    while not server.server.started and not serving.done():  # noqa: ASYNC110 (uvicorn only exposes a flag)
        await asyncio.sleep(0.05)
    if server.server.started:
        s = server.settings
        print(
            f"Local RunPod endpoint: {server.url}/{s.endpoint_id}  ({len(server.endpoint.slots)} worker process(es) booting)"
        )
        print(f"Point clients at it with RUNPOD_BASE_URL={server.url} RUNPOD_ENDPOINT_ID={s.endpoint_id}")
        print("Try it:\n" + curl_example(server.url, s.endpoint_id, with_key=s.api_key is not None), flush=True)
    await serving


def main(argv: list[str] | None = None) -> None:
    settings = EndpointSettings(**_parse(argv))
    worker_settings = WorkerSettings()
    logs.configure(settings.log_level, worker_settings.log_json)
    server = EndpointServer(settings, worker_settings)
    try:
        asyncio.run(_serve(server))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
