"""The official SDK client, pointed at a URL with extra headers: how tests speak MCP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


@contextlib.asynccontextmanager
async def mcp_client(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    token: str | None = None,
    auth: httpx2.Auth | None = None,
    mode: str = "legacy",
    on_response: Callable[[httpx2.Response], Awaitable[None]] | None = None,
    http_timeout: float = 30.0,
    **client_kwargs: Any,
) -> AsyncIterator[Client]:
    """`mode`: "legacy" (initialize handshake), "auto", or a modern version such as "2026-07-28".

    `token` sends a bearer token; `auth` lets an httpx2 auth flow (the SDK's
    OAuthClientProvider) obtain one itself; `on_response` sees every HTTP
    answer (to learn the Mcp-Session-Id, say); `http_timeout` bounds each HTTP exchange.
    """
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    hooks = {"response": [on_response]} if on_response else {}
    async with (
        httpx2.AsyncClient(
            headers=sent, auth=auth, timeout=http_timeout, event_hooks=hooks
        ) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            **client_kwargs,
        ) as client,
    ):
        yield client


def sampling_reply(
    text: str, record: list[str], note: str = "sampling"
) -> Callable[[Any, types.CreateMessageRequestParams], Awaitable[types.CreateMessageResult]]:
    """A client's sampling callback: notes `note` in `record`, answers `text`."""

    async def sampling(
        _: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        record.append(note)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=text), model="test-model"
        )

    return sampling


def initialize_body(client: str = "raw-test", version: str = "2025-11-25") -> dict[str, Any]:
    """A handshake-era `initialize` request, for tests that speak raw HTTP."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": client, "version": "0"},
        },
    }


def text_of(result: Any) -> str:
    """The concatenated text content of a tool result."""
    return "\n".join(part.text for part in result.content if getattr(part, "type", "") == "text")
