"""HTTP-level checks in front of the SDK's StreamableHTTP transport.

They answer with JSON-RPC error bodies (never a bare text or a 500) and stamp
the arrival time into the ASGI scope so requestTiming can report it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

from mcp_oauth_gateway_core.cors import CorsPolicy, own_origin
from mcp_oauth_gateway_core.jsonrpc import send_error
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

RECEIVED_AT = "echo.received_at"  # scope["state"] key: (perf_counter, wall clock)


class McpGuards:
    """Origin/CORS, protocol-version and body-size checks for the /mcp endpoint."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        cors: CorsPolicy,
        protocol_versions: Sequence[str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.cors = cors
        self.protocol_versions = tuple(protocol_versions)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[RECEIVED_AT] = (time.perf_counter(), time.time())
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        cors_headers: dict[str, str] = {}
        if origin is not None:
            if not self.cors.allows(origin, own_origin(headers, scope.get("scheme", "http"))):
                await send_error(
                    send,
                    403,
                    f"Origin {origin!r} is not allowed; configure MCP_ECHO_ALLOWED_ORIGINS "
                    "to admit it",
                )
                return
            if scope["method"] == "OPTIONS":
                await self._preflight(send, self.cors.preflight_headers(origin))
                return
            cors_headers = self.cors.response_headers(origin)
        elif scope["method"] == "OPTIONS":
            await self._preflight(send, {"allow": "GET, POST, DELETE, OPTIONS"})
            return

        version = headers.get("mcp-protocol-version")
        if version is not None and version not in self.protocol_versions:
            await send_error(
                send,
                400,
                f"Unsupported MCP-Protocol-Version {version!r}; supported: "
                f"{', '.join(self.protocol_versions)}",
                extra_headers=cors_headers,
            )
            return

        if scope["method"] == "POST":
            replay = await self._buffer_body(scope, receive, send, headers, cors_headers)
            if replay is None:
                return
            receive = replay

        if cors_headers:
            send = _with_headers(send, cors_headers)
        await self.app(scope, receive, send)

    async def _preflight(self, send: Send, headers: dict[str, str]) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _buffer_body(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Headers,
        cors_headers: dict[str, str],
    ) -> Receive | None:
        """Read the body up to the limit (413 past it) and hand it on unchanged."""
        too_large = (
            f"Request body larger than {self.max_body_bytes} bytes; "
            "split the batch or raise MCP_ECHO_MAX_BODY_BYTES"
        )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await send_error(send, 413, too_large, extra_headers=cors_headers)
            return None
        body = bytearray()
        pending: deque[Message] = deque()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending.append(message)
                break
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await send_error(send, 413, too_large, extra_headers=cors_headers)
                return None
            if not message.get("more_body", False):
                break
        pending.appendleft({"type": "http.request", "body": bytes(body), "more_body": False})

        async def replay() -> Message:
            return pending.popleft() if pending else await receive()

        return replay


def _with_headers(send: Send, extra: dict[str, str]) -> Send:
    encoded = [(k.encode(), v.encode()) for k, v in extra.items()]

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *encoded]}
        await send(message)

    return wrapped
