"""`create_app(settings)`: the proxy as an ASGI app, with no globals.

`/mcp` and `/mcp/` are the same endpoint (never a redirect: clients drop the
Authorization header on redirects). `/health` never spawns a child, so
container healthchecks cost nothing; it reports the sessions and the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_streamablehttp_proxy import __version__
from mcp_streamablehttp_proxy.config import Settings
from mcp_streamablehttp_proxy.endpoint import McpEndpoint
from mcp_streamablehttp_proxy.pool import ChildPool
from mcp_streamablehttp_proxy.sessions import SessionRegistry


class ProxyApp(Starlette):
    """The Starlette app, carrying its children so the CLI can end them on SIGTERM."""

    registry: SessionRegistry
    pool: ChildPool

    def end_children_threadsafe(self) -> None:
        """From a signal handler: end sessions and pool children before streams drain."""
        self.registry.close_all_threadsafe()
        self.pool.close_all_threadsafe()


def create_app(settings: Settings) -> ProxyApp:
    registry = SessionRegistry(settings)
    pool = ChildPool(settings)
    endpoint = McpEndpoint(settings, registry, pool)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "sessions": len(registry),
                "max_sessions": settings.max_sessions,
                "pool": pool.stats(),
            }
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await registry.start()
        await pool.start()
        try:
            yield
        finally:
            await asyncio.gather(registry.close_all(), pool.close_all())

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
    app.pool = pool
    return app
