"""create_app(settings): the stateless echo server as an ASGI app.

The SDK's session manager fixes one response mode (JSON or SSE) per manager,
so two stateless managers serve the same tools and each request goes to the
one its Accept header allows. The tools never stream, so a client that
accepts JSON gets JSON (no event framing); one that accepts only
text/event-stream gets SSE. `http_app` is shared with the stateful server.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_oauth_gateway_core.cors import CorsPolicy
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_echo_streamablehttp_server_stateless import __version__
from mcp_echo_streamablehttp_server_stateless.config import Settings
from mcp_echo_streamablehttp_server_stateless.http_guards import McpGuards
from mcp_echo_streamablehttp_server_stateless.tools import (
    Diagnostics,
    refuse_unknown_tools,
    register_diagnostic_tools,
)

SERVER_NAME = "mcp-echo-streamablehttp-server-stateless"

# Origin and Host are checked by McpGuards with JSON-RPC error bodies; the SDK's
# own check (plain-text answers, no "any host") stays off.
NO_SDK_HOST_CHECK = TransportSecuritySettings(enable_dns_rebinding_protection=False)


def sse_only(headers: Headers) -> bool:
    """True when the client accepts SSE but not JSON."""
    accept = [part.split(";")[0].strip().lower() for part in headers.get("accept", "").split(",")]
    json_ok = any(t in ("application/json", "application/*", "*/*") for t in accept)
    return not json_ok and any(t in ("text/event-stream", "text/*") for t in accept)


def stateless_manager(diag: Diagnostics, *, json_response: bool) -> StreamableHTTPSessionManager:
    server = MCPServer(name=diag.server_name, version=__version__)
    register_diagnostic_tools(server, diag)
    refuse_unknown_tools(server)
    server.streamable_http_app(
        stateless_http=True,
        json_response=json_response,
        transport_security=NO_SDK_HOST_CHECK,
        max_request_body_size=diag.settings.max_body_bytes,
    )
    return server.session_manager


def http_app(
    *,
    settings: Settings,
    mcp_handler: ASGIApp,
    managers: Sequence[StreamableHTTPSessionManager],
    health: Callable[[], dict[str, Any]],
) -> Starlette:
    """/mcp and /mcp/ (same handler, never a redirect) behind McpGuards, plus /health."""
    guarded = McpGuards(
        mcp_handler,
        cors=CorsPolicy(settings.allowed_origins),
        protocol_versions=settings.protocol_versions,
        max_body_bytes=settings.max_body_bytes,
    )

    async def health_endpoint(_: Request) -> JSONResponse:
        return JSONResponse(health())

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for manager in managers:
                await stack.enter_async_context(manager.run())
            yield

    return Starlette(
        routes=[
            Route("/health", health_endpoint, methods=["GET"]),
            Route("/mcp", guarded),
            Route("/mcp/", guarded),
        ],
        lifespan=lifespan,
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    diag = Diagnostics(settings=settings, server_name=SERVER_NAME, mode="stateless")
    sse = stateless_manager(diag, json_response=False)
    plain_json = stateless_manager(diag, json_response=True)

    async def mcp_handler(scope: Scope, receive: Receive, send: Send) -> None:
        if sse_only(Headers(scope=scope)):
            # The SDK's SSE mode insists that Accept also names JSON; this
            # client will get SSE either way, so say so on its behalf.
            headers = [(k, v) for k, v in scope["headers"] if k != b"accept"]
            headers.append((b"accept", b"application/json, text/event-stream"))
            await sse.handle_request({**scope, "headers": headers}, receive, send)
        else:
            await plain_json.handle_request(scope, receive, send)

    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "server": SERVER_NAME,
            "version": __version__,
            "uptime_seconds": round(time.time() - diag.started_at, 1),
        }

    return http_app(
        settings=settings, mcp_handler=mcp_handler, managers=[sse, plain_json], health=health
    )
