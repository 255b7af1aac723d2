"""`create_app(settings)`: the proxy as an ASGI app, with no globals.

`/mcp` and `/mcp/` are the same endpoint (never a redirect: clients drop the
Authorization header on redirects). `/health` never spawns a child, so
container healthchecks cost nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_streamablehttp_proxy import __version__
from mcp_streamablehttp_proxy.config import Settings
from mcp_streamablehttp_proxy.endpoint import McpEndpoint
from mcp_streamablehttp_proxy.sessions import SessionRegistry


class ProxyApp(Starlette):
    """The Starlette app, carrying its session registry so the CLI can end sessions on SIGTERM."""

    registry: SessionRegistry


def create_app(settings: Settings) -> ProxyApp:
    registry = SessionRegistry(settings)
    endpoint = McpEndpoint(settings, registry)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "sessions": len(registry),
                "max_sessions": settings.max_sessions,
            }
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await registry.start()
        try:
            yield
        finally:
            await registry.close_all()

    app = ProxyApp(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/mcp", endpoint),
            Route("/mcp/", endpoint),
        ],
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.registry = registry
    return app
