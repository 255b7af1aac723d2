"""create_app(settings): the fetch tool over stateless StreamableHTTP, plus /health.

Stateless and JSON-answering: any replica serves any request, and nothing
streams, so answers need no event framing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from httpcore2 import AsyncNetworkBackend
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from mcp_oauth_gateway_core.fetcher import Limits, SafeFetcher
from mcp_oauth_gateway_core.resolver import Resolver, SystemResolver
from mcp_oauth_gateway_core.ssrf import AddressPolicy
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_fetch_streamablehttp_server import __version__
from mcp_fetch_streamablehttp_server.config import Settings
from mcp_fetch_streamablehttp_server.tools import register_fetch_tool

SERVER_NAME = "mcp-fetch-streamablehttp-server"


def create_app(
    settings: Settings | None = None,
    *,
    resolver: Resolver | None = None,
    network_backend: AsyncNetworkBackend | None = None,
) -> Starlette:
    """`resolver` and `network_backend` are seams for tests (DNS answers, connect attempts)."""
    settings = settings or Settings()
    fetcher = SafeFetcher(
        AddressPolicy.from_settings(
            settings.allowed_hosts,
            settings.allowed_networks,
            allow_with="MCP_FETCH_ALLOWED_HOSTS or MCP_FETCH_ALLOWED_NETWORKS",
        ),
        resolver or SystemResolver(),
        Limits(
            max_bytes=settings.max_bytes,
            connect_timeout=settings.connect_timeout,
            total_timeout=settings.total_timeout,
            max_redirects=settings.max_redirects,
        ),
        settings.user_agent,
        network_backend,
    )
    server = MCPServer(name=SERVER_NAME, version=__version__)
    register_fetch_tool(server, settings, fetcher)
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    endpoint = StreamableHTTPASGIApp(manager)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "server": SERVER_NAME, "version": __version__})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            yield

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/mcp", endpoint),
            Route("/mcp/", endpoint),
        ],
        lifespan=lifespan,
    )
