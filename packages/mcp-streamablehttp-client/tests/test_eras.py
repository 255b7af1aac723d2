"""The bridge picks the server's protocol era; its stdio side always speaks the handshake.

A desktop client (here the official SDK's stdio client, forced to the handshake)
talks to the bridge; behind it, a server that answers `server/discover` is spoken
to in 2026-07-28 (per-request envelopes, no session), any other with the handshake.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from client_testkit import ClientHome, bridge

from scripts.stack import Stack
from testsupport.mcp_client import text_of
from testsupport.net import free_port, wait_port
from testsupport.processes import ManagedProcess

pytestmark = pytest.mark.anyio
HERE = Path(__file__).parent


def header_lines(listing: str) -> dict[str, str]:
    """printHeader's listing: one `name  value` line per request header."""
    lines = (line.strip().split(None, 1) for line in listing.splitlines())
    return {parts[0].lower(): parts[1] for parts in lines if len(parts) == 2}


@pytest.mark.parametrize(
    ("protocol", "version", "session"),
    [("auto", "2026-07-28", False), ("handshake", "2025-11-25", True)],
)
async def test_the_bridge_speaks_the_newest_era_both_support(
    stack: Stack, home: ClientHome, protocol: str, version: str, session: bool
) -> None:
    url = f"{stack.gateway_url}/echo-stateful/mcp"
    assert home.run("--server-url", url, "--login").returncode == 0
    home.extra_env["MCP_CLIENT_PROTOCOL"] = protocol
    async with bridge(home, url) as client:
        # The stdio side is a handshake whatever the server speaks.
        assert client.protocol_version == "2025-11-25"
        assert client.server_info is not None
        assert client.server_info.name == "mcp-echo-streamablehttp-server-stateful"
        echoed = text_of(await client.call_tool("echo", {"message": f"via {protocol}"}))
        seen = header_lines(text_of(await client.call_tool("printHeader", {})))
        context = text_of(await client.call_tool("authContext", {}))
    assert echoed == f"via {protocol}"
    assert seen["mcp-protocol-version"] == version
    assert ("mcp-session-id" in seen) is session
    if not session:
        assert seen["mcp-method"] == "tools/call" and seen["mcp-name"] == "printHeader"
    assert "oidc:alice" in context


@pytest.fixture(scope="module")
def modern_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    logs = tmp_path_factory.mktemp("modern-peer")
    with ManagedProcess(
        [sys.executable, str(HERE / "modern_peer.py"), str(port)], log_path=logs / "peer.log"
    ):
        wait_port("127.0.0.1", port, timeout=30)
        yield f"http://127.0.0.1:{port}/mcp"


async def test_input_required_becomes_an_elicitation_on_stdio(
    modern_peer: str, home: ClientHome
) -> None:
    """The server asks for input the 2026-07-28 way; the desktop client sees the request
    it knows (elicitation/create), and its answer reaches the server on the retry."""
    asked: list[str] = []

    async def elicit(_: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async with bridge(home, modern_peer, elicitation_callback=elicit) as client:
        assert client.instructions == "asks before it answers"
        answered = await client.call_tool("ask", {"question": "Who are you?"})
        echoed = await client.call_tool("echo", {"message": "still here"})
    assert asked == ["Who are you?"]
    assert text_of(answered) == "you said {'name': 'Ada'} after round-1"
    assert text_of(echoed) == "still here"


async def test_a_declined_elicitation_reaches_the_server_as_declined(
    modern_peer: str, home: ClientHome
) -> None:
    async def decline(_: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="decline")

    async with bridge(home, modern_peer, elicitation_callback=decline) as client:
        answered = await client.call_tool("ask", {"question": "Who are you?"})
    assert text_of(answered) == "you said None after round-1"
