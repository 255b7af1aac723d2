"""The stdio bridge: an MCP server on stdin/stdout that forwards every message to the
StreamableHTTP server and every message back, both directions, unchanged.

Both halves are the SDK's transports; between them this only pumps messages. When
there are no usable credentials (and the bridge may not open a browser), it answers
by itself instead of hanging the desktop client: `initialize` succeeds, lists are
empty, and tool calls say how to sign in. Once credentials appear (someone ran the
login command), the next request connects upstream, replays the client's
`initialize`, and tells the client its tools changed.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp.client.streamable_http import streamable_http_client
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import (
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from mcp_streamablehttp_client import __name__ as package_name
from mcp_streamablehttp_client.auth import GatewayAuth, LoginRequired
from mcp_streamablehttp_client.config import Settings
from mcp_streamablehttp_client.upstream import AUTH_FAILED, answering_client

logger = logging.getLogger(__name__)

Streams = tuple[Any, Any]
REPLAYED_INIT_ID = "mcp-streamablehttp-client/initialize"
EMPTY_LISTS = {
    "tools/list": "tools",
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
    "prompts/list": "prompts",
}


class Bridge:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.auth = GatewayAuth(settings, interactive=settings.browser_login, raise_on_login=False)
        self.local = False
        self.initialize: JSONRPCRequest | None = None
        self.pending: dict[str | int, str] = {}
        self.upstream_write: Any = None
        self.stdio_write: Any = None
        self._stack = AsyncExitStack()
        self._replayed = anyio.Event()

    @property
    def login_message(self) -> str:
        return str(LoginRequired(self.settings.server_url))

    async def run(self, streams: Streams | None = None) -> None:
        await self.auth.load()
        signed_in = self.auth.context.current_tokens is not None
        self.local = not signed_in and not self.settings.browser_login
        if self.local:
            logger.warning("%s", self.login_message)
        # The task group outlives the stack, so the transports close inside it, in order.
        async with anyio.create_task_group() as tg, self._stack:
            if streams is None:
                stdio_read, self.stdio_write = await self._stack.enter_async_context(stdio_server())
            else:
                stdio_read, self.stdio_write = streams
            if not self.local:
                await self._connect(tg)
            async for item in stdio_read:
                if isinstance(item, Exception):
                    logger.warning("unreadable message from the client: %s", item)
                    continue
                await self._from_client(item, tg)

    async def _connect(self, tg: TaskGroup) -> None:
        http = await self._stack.enter_async_context(
            answering_client(self.auth, self.settings.http_timeout)
        )
        read, self.upstream_write = await self._stack.enter_async_context(
            streamable_http_client(self.settings.server_url, http_client=http)
        )
        tg.start_soon(self._from_server, read)

    # --- client -> server ------------------------------------------------------------

    async def _from_client(self, item: SessionMessage, tg: TaskGroup) -> None:
        message = item.message
        if isinstance(message, JSONRPCRequest) and message.method == "initialize":
            self.initialize = message
        if self.local and not await self._signed_in_since(tg):
            await self._answer_locally(message)
            return
        if isinstance(message, JSONRPCRequest):
            self.pending[message.id] = message.method
        await self.upstream_write.send(item)

    async def _signed_in_since(self, tg: TaskGroup) -> bool:
        """Connect upstream once credentials appeared, replaying the client's handshake."""
        if self.initialize is None or await self.auth.credentials.get_tokens() is None:
            return False
        self.auth._initialized = False
        self.auth.login_needed = False
        self.local = False
        await self._connect(tg)
        replay = self.initialize.model_copy(update={"id": REPLAYED_INIT_ID})
        self.pending[REPLAYED_INIT_ID] = "initialize"
        await self.upstream_write.send(SessionMessage(replay))
        await self._replayed.wait()
        if self.local:
            return False
        await self.upstream_write.send(
            SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized"))
        )
        for changed in ("tools", "resources", "prompts"):
            await self._to_client(
                JSONRPCNotification(jsonrpc="2.0", method=f"notifications/{changed}/list_changed")
            )
        return True

    async def _answer_locally(self, message: JSONRPCMessage) -> None:
        if not isinstance(message, JSONRPCRequest):
            return
        result: dict[str, Any] | None = None
        if message.method == "initialize":
            result = self._local_initialize(message)
        elif message.method == "ping":
            result = {}
        elif message.method in EMPTY_LISTS:
            result = {EMPTY_LISTS[message.method]: []}
        elif message.method == "tools/call":
            result = {
                "content": [{"type": "text", "text": self.login_message}],
                "isError": True,
            }
        if result is not None:
            await self._to_client(JSONRPCResponse(jsonrpc="2.0", id=message.id, result=result))
        else:
            await self._to_client(
                JSONRPCError(
                    jsonrpc="2.0",
                    id=message.id,
                    error=ErrorData(code=AUTH_FAILED, message=self.login_message),
                )
            )

    def _local_initialize(self, message: JSONRPCRequest) -> dict[str, Any]:
        params = message.params or {}
        asked = params.get("protocolVersion") if isinstance(params, dict) else None
        version = asked if asked in HANDSHAKE_PROTOCOL_VERSIONS else HANDSHAKE_PROTOCOL_VERSIONS[-1]
        return {
            "protocolVersion": version,
            "capabilities": {
                "tools": {"listChanged": True},
                "resources": {"listChanged": True},
                "prompts": {"listChanged": True},
            },
            "serverInfo": {"name": package_name.replace("_", "-"), "version": "0.1.0"},
            "instructions": self.login_message,
        }

    # --- server -> client ------------------------------------------------------------

    async def _from_server(self, read: Any) -> None:
        async for item in read:
            if isinstance(item, Exception):
                logger.warning("unreadable message from the server: %s", item)
                continue
            message = item.message
            if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
                method = self.pending.pop(message.id, None)
                if message.id == REPLAYED_INIT_ID:
                    self.local = isinstance(message, JSONRPCError)
                    self._replayed.set()
                    self._replayed = anyio.Event()
                    continue
                if isinstance(message, JSONRPCError) and self.auth.login_needed:
                    if method == "initialize":
                        # Never leave the desktop client without a server: answer it ourselves.
                        self.local = True
                        await self._answer_locally(self.initialize or message)
                        continue
                    message = JSONRPCError(
                        jsonrpc="2.0",
                        id=message.id,
                        error=ErrorData(code=AUTH_FAILED, message=self.login_message),
                    )
                    item = SessionMessage(message)
            await self.stdio_write.send(item)

    async def _to_client(self, message: JSONRPCMessage) -> None:
        await self.stdio_write.send(SessionMessage(message))


async def run_bridge(settings: Settings) -> None:
    await Bridge(settings).run()
