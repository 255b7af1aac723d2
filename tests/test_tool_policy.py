"""Per-tool policy at the gateway, through real Traefik: /verify decides from the MCP
2026-07-28 routing headers (Mcp-Method, Mcp-Name), and a request whose headers lie is
refused by the service itself, so the decision cannot be walked around."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from scripts.stack import Stack
from testsupport.mcp_client import mcp_client, text_of
from testsupport.net import free_port
from testsupport.oauth_client import login, sdk_auth

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
POLICY = {
    "services": {
        "fetch": {"rules": [{"method": "tools/call", "name": "fetch", "scopes": ["mcp:fetch"]}]},
        "echo-stateless": {
            "rules": [{"method": "tools/call", "name": "environmentDump", "users": ["oidc:root"]}]
        },
        "echo-stateful": {"handshake": "deny"},
    }
}


@pytest.fixture(scope="module")
def policed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(
        gateway_port=free_port(),
        state_dir=tmp_path_factory.mktemp("policed-stack"),
        env={"POLICY": json.dumps(POLICY)},
    ) as stack:
        yield stack


async def test_a_tool_needing_a_scope_makes_the_sdk_client_step_up(policed: Stack) -> None:
    """The client signs in with the service's scope, is refused `fetch` with
    insufficient_scope, asks for mcp:fetch as well, and then the call goes through."""
    url = f"{policed.gateway_url}/fetch/mcp"
    auth = sdk_auth(url)
    async with mcp_client(url, auth=auth, mode=MODERN) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        first_scope = auth.context.current_tokens.scope if auth.context.current_tokens else None
        fetched = await client.call_tool("fetch", {"url": "http://169.254.169.254/"})
    assert "fetch" in tools
    assert first_scope is not None and "mcp:fetch" not in first_scope.split()
    assert auth.context.current_tokens is not None
    assert "mcp:fetch" in (auth.context.current_tokens.scope or "").split()
    assert "cloud metadata" in text_of(fetched)  # the fetch tool itself answered


async def test_a_tool_kept_for_other_users_is_a_plain_403(policed: Stack) -> None:
    url = f"{policed.gateway_url}/echo-stateless/mcp"
    token = (await login(policed.gateway_url, url))["access_token"]
    async with mcp_client(url, token=token, mode=MODERN) as client:
        allowed = text_of(await client.call_tool("echo", {"message": "fine"}))
        with pytest.raises(MCPError) as refused:
            await client.call_tool("environmentDump", {})
    assert allowed == "fine"
    assert refused.value.error.code == -32003  # the gateway's reason reaches the client
    assert "may not call tools/call environmentDump" in refused.value.error.message

    root = (await login(policed.gateway_url, url, user="root"))["access_token"]
    async with mcp_client(url, token=root, mode=MODERN) as client:
        dumped = await client.call_tool("environmentDump", {})
    assert not dumped.is_error and "environment" in text_of(dumped).lower()


async def test_a_lying_header_does_not_run_the_forbidden_tool(policed: Stack) -> None:
    """Mcp-Name says `echo` (allowed), the body calls `environmentDump` (forbidden):
    /verify lets the request through on its headers, and the service refuses it."""
    url = f"{policed.gateway_url}/echo-stateless/mcp"
    token = (await login(policed.gateway_url, url))["access_token"]
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "liar", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "environmentDump", "arguments": {}, "_meta": meta},
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": "echo",
    }
    async with httpx2.AsyncClient() as http:
        lied = await http.post(url, json=body, headers=headers)
        honest = await http.post(url, json=body, headers={**headers, "Mcp-Name": "environmentDump"})
    assert lied.status_code == 400
    assert lied.json()["error"]["code"] == -32020  # header/body mismatch, before any tool runs
    assert "result" not in lied.json()
    assert honest.status_code == 403  # told the truth, the gateway refuses it
    assert "access_denied" in honest.text


async def test_handshake_requests_follow_the_service_rule(policed: Stack) -> None:
    url = f"{policed.gateway_url}/echo-stateful/mcp"
    token = (await login(policed.gateway_url, url))["access_token"]
    async with mcp_client(url, token=token, mode=MODERN) as client:
        assert text_of(await client.call_tool("echo", {"message": "modern"})) == "modern"
    failure: BaseException | None = None
    try:
        async with mcp_client(url, token=token, mode="legacy") as client:
            await client.list_tools()
    except Exception as exc:
        failure = exc
        while isinstance(failure, BaseExceptionGroup) and failure.exceptions:
            failure = failure.exceptions[0]
    assert isinstance(failure, MCPError), repr(failure)
    assert "accepts only MCP 2026-07-28" in failure.error.message
