"""create_app(settings): the stateful echo server as an ASGI app.

Sessions are the SDK's stateful StreamableHTTPSessionManager; this package
adds the memory each session keeps and the two tools that read it. The tools
never stream, so POSTs are answered with JSON (every spec-conforming client
accepts it); the GET stream is SSE as always.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_echo_streamablehttp_server_stateless.server import NO_SDK_HOST_CHECK, http_app
from mcp_echo_streamablehttp_server_stateless.tools import (
    Diagnostics,
    refuse_unknown_tools,
    register_diagnostic_tools,
)
from starlette.applications import Starlette
from starlette.types import ASGIApp

from mcp_echo_streamablehttp_server_stateful import __version__
from mcp_echo_streamablehttp_server_stateful.config import Settings
from mcp_echo_streamablehttp_server_stateful.sessions import SessionStore, SessionTracker
from mcp_echo_streamablehttp_server_stateful.tools import record_echo, register_session_tools

SERVER_NAME = "mcp-echo-streamablehttp-server-stateful"
logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    diag = Diagnostics(settings=settings, server_name=SERVER_NAME, mode="stateful")
    store = SessionStore(settings.queue_limit)

    server = MCPServer(name=SERVER_NAME, version=__version__)
    register_diagnostic_tools(server, diag, on_echo=record_echo(store))
    register_session_tools(server, store)
    refuse_unknown_tools(server)
    server.streamable_http_app(
        stateless_http=False,
        json_response=True,
        session_idle_timeout=settings.session_timeout,
        max_sessions=settings.max_sessions,
        transport_security=NO_SDK_HOST_CHECK,
        max_request_body_size=settings.max_body_bytes,
    )
    manager = server.session_manager

    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "server": SERVER_NAME,
            "version": __version__,
            "uptime_seconds": round(time.time() - diag.started_at, 1),
            "sessions": len(store),
        }

    tracked: ASGIApp = SessionTracker(manager.handle_request, store)
    app = http_app(settings=settings, mcp_handler=tracked, managers=[manager], health=health)

    sdk_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with sdk_lifespan(app), anyio.create_task_group() as tasks:
            tasks.start_soon(_expire_idle, store, settings.session_timeout)
            yield
            tasks.cancel_scope.cancel()

    app.router.lifespan_context = lifespan
    return app


async def _expire_idle(store: SessionStore, idle_seconds: float) -> None:
    """Drop the memory of sessions idle past the timeout (the SDK ends the sessions)."""
    interval = min(30.0, max(0.5, idle_seconds / 4))
    while True:
        await anyio.sleep(interval)
        for session_id in store.expire(idle_seconds):
            logger.info("session %s expired after %.0f s idle", session_id, idle_seconds)
