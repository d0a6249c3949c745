"""A faithful local RunPod serverless endpoint (``/v2/{endpoint_id}/...``) running jobs in worker processes.

Start it with ``python -m handler.local_endpoint``; see docs/endpoint.md.
"""

from handler.local_endpoint.app import create_app
from handler.local_endpoint.core import LocalEndpoint
from handler.local_endpoint.server import EndpointServer
from handler.local_endpoint.settings import EndpointSettings

__all__ = ["EndpointServer", "EndpointSettings", "LocalEndpoint", "create_app"]
