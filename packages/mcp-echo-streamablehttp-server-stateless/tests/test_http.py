"""The HTTP side: eras, versions, Origin, Accept, isolation under concurrency, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import httpx2
import pytest
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    KNOWN_PROTOCOL_VERSIONS,
    MODERN_PROTOCOL_VERSIONS,
)

from testsupport.mcp_client import initialize_body, mcp_client, text_of
from testsupport.processes import start_http_service

JSON_ONLY = {"accept": "application/json", "content-type": "application/json"}
BOTH = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def post(url: str, body: object, headers: dict[str, str] | None = None) -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.post(url, content=content, headers={**JSON_ONLY, **(headers or {})}, timeout=10)


def assert_jsonrpc_error(response: httpx2.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert fragment in body["error"]["message"], body


@pytest.mark.anyio
async def test_concurrent_clients_never_see_each_others_headers(echo_url: str) -> None:
    """20 clients, interleaved calls: each tool output names only its own caller."""
    seen: dict[int, list[tuple[str, str]]] = {}

    async def client(n: int) -> None:
        headers = {"X-User-Id": f"user-{n}", "X-Probe": f"probe-{n}"}
        async with mcp_client(echo_url, headers=headers) as session:
            outputs = []
            for _ in range(5):
                context = text_of(await session.call_tool("authContext", {}))
                probe = text_of(await session.call_tool("printHeader", {"header_name": "X-Probe"}))
                outputs.append((context, probe))
                await anyio.lowlevel.checkpoint()
            seen[n] = outputs

    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(client, n)

    assert sorted(seen) == list(range(20))
    for n, outputs in seen.items():
        for context, probe in outputs:
            user_line = next(line for line in context.splitlines() if "x-user-id" in line)
            assert user_line.split()[-1] == f"user-{n}"
            assert probe == f"X-Probe: probe-{n}"


@pytest.mark.parametrize("version", HANDSHAKE_PROTOCOL_VERSIONS)
def test_initialize_accepts_every_handshake_version(echo_url: str, version: str) -> None:
    response = post(echo_url, initialize_body(version=version))
    assert response.status_code == 200
    assert response.json()["result"]["protocolVersion"] == version


@pytest.mark.parametrize("version", KNOWN_PROTOCOL_VERSIONS)
def test_every_known_version_header_is_accepted(echo_url: str, version: str) -> None:
    body: dict[str, object] = dict(LIST_TOOLS)
    headers = {"mcp-protocol-version": version}
    if version in MODERN_PROTOCOL_VERSIONS:  # a self-contained request: the envelope in _meta
        body["params"] = {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        }
        headers["mcp-method"] = "tools/list"
    response = post(echo_url, body, headers)
    assert response.status_code == 200, response.text
    assert len(response.json()["result"]["tools"]) == 9


@pytest.mark.anyio
async def test_modern_era_uses_no_session(echo_url: str) -> None:
    async with mcp_client(echo_url, mode="2026-07-28") as client:
        result = await client.call_tool("echo", {"message": "modern"})
        headers = text_of(await client.call_tool("printHeader", {}))
    assert text_of(result) == "modern"
    assert "mcp-protocol-version  2026-07-28" in headers
    assert "mcp-session-id" not in headers


def test_unsupported_protocol_version_gets_400_naming_the_supported(echo_url: str) -> None:
    response = post(echo_url, LIST_TOOLS, {"mcp-protocol-version": "1999-01-01"})
    assert_jsonrpc_error(response, 400, "1999-01-01")
    for version in KNOWN_PROTOCOL_VERSIONS:
        assert version in response.json()["error"]["message"]


def test_foreign_origin_is_refused_with_403(echo_url: str) -> None:
    response = post(echo_url, LIST_TOOLS, {"origin": "http://evil.example"})
    assert_jsonrpc_error(response, 403, "evil.example")


def test_own_and_configured_origins_are_allowed_with_cors_headers(echo_url: str) -> None:
    own = echo_url.removesuffix("/mcp")
    assert post(echo_url, LIST_TOOLS, {"origin": own}).status_code == 200
    configured = post(echo_url, LIST_TOOLS, {"origin": "https://inspector.example"})
    assert configured.status_code == 200
    assert configured.headers["access-control-allow-origin"] == "https://inspector.example"
    assert "Mcp-Session-Id" in configured.headers["access-control-expose-headers"]


def test_preflight_is_answered_for_allowed_origins_only(echo_url: str) -> None:
    ok = httpx2.options(
        echo_url,
        headers={
            "origin": "https://inspector.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, mcp-session-id",
        },
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "https://inspector.example"
    assert "Mcp-Session-Id" in ok.headers["access-control-allow-headers"]
    refused = httpx2.options(
        echo_url, headers={"origin": "http://evil.example", "access-control-request-method": "POST"}
    )
    assert refused.status_code == 403


def test_json_or_sse_as_accept_allows(echo_url: str) -> None:
    for accept in (JSON_ONLY, BOTH):
        as_json = post(echo_url, LIST_TOOLS, accept)
        assert as_json.headers["content-type"].startswith("application/json")
        assert as_json.json()["result"]["tools"]
    as_sse = post(echo_url, LIST_TOOLS, {"accept": "text/event-stream"})
    assert as_sse.headers["content-type"].startswith("text/event-stream")
    data = [line[5:] for line in as_sse.text.splitlines() if line.startswith("data:")]
    assert any('"tools"' in line for line in data)


def test_trailing_slash_is_served_without_redirect(echo_url: str) -> None:
    response = post(echo_url + "/", LIST_TOOLS)
    assert response.status_code == 200
    assert response.json()["result"]["tools"]


def test_health(echo_url: str) -> None:
    response = httpx2.get(echo_url.removesuffix("/mcp") + "/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


# --- bad input: the right error, never a 500, and the server keeps answering ----------


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        (b'{"jsonrpc": "2.0", "id": 1, "method": ', {}, 400, "Parse error"),
        (b"[1, 2, 3]", {}, 400, "Validation error"),
        (b'"just a string"', {}, 400, "Validation error"),
        (b"42", {}, 400, "Validation error"),
        (b'{"id": 1}', {}, 400, "Validation error"),
        (json.dumps(LIST_TOOLS).encode(), {"accept": "text/html"}, 406, "Not Acceptable"),
        (b"x" * 70_000, {}, 413, "larger than 65536 bytes"),
    ],
    ids=["truncated-json", "array", "string", "number", "no-method", "wrong-accept", "oversized"],
)
def test_bad_requests_get_clear_errors(
    echo_url: str, body: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    response = post(echo_url, body, headers)
    assert_jsonrpc_error(response, status, fragment)
    assert post(echo_url, LIST_TOOLS).status_code == 200


def test_wrong_content_type_is_refused(echo_url: str) -> None:
    response = post(echo_url, LIST_TOOLS, {"content-type": "text/plain"})
    assert response.status_code in (400, 415)
    assert response.status_code < 500


def test_unknown_tool_is_a_jsonrpc_invalid_params_error(echo_url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "nope"}}
    response = post(echo_url, body)
    assert response.status_code == 200
    error = response.json()["error"]
    assert error["code"] == -32602
    assert "nope" in error["message"] and "echo" in error["message"]


def test_unknown_method_is_method_not_found(echo_url: str) -> None:
    response = post(echo_url, {"jsonrpc": "2.0", "id": 3, "method": "no/such/method"})
    assert response.status_code < 500
    assert response.json()["error"]["code"] == -32601


@pytest.mark.parametrize(
    "arguments",
    [{"message": 5}, {"message": None}, {}, {"message": ["a"]}],
    ids=["int", "null", "missing", "list"],
)
def test_wrong_argument_types_are_tool_errors_naming_the_argument(
    echo_url: str, arguments: dict[str, object]
) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": arguments},
    }
    response = post(echo_url, body)
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["isError"] is True
    assert "message" in result["content"][0]["text"]


# --- configuration: environment, CLI flags override ---------------------------------


@pytest.fixture(scope="module")
def configured_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = str(Path(__import__("shutil").which("mcp-echo-streamablehttp-server-stateless")))
    proc, base = start_http_service(
        [exe, "--protocol-versions", "2025-11-25,2026-07-28"],
        log_dir=tmp_path_factory.mktemp("echo-configured"),
        env={
            "MCP_ECHO_PROTOCOL_VERSIONS": "2024-11-05",  # overridden by the flag
            "MCP_ECHO_ALLOW_SECRET_REVEAL": "true",
            "DEMO_SECRET": "revealed-on-purpose",
        },
    )
    try:
        yield base + "/mcp"
    finally:
        proc.stop()


def test_flags_override_environment(configured_url: str) -> None:
    refused = post(configured_url, LIST_TOOLS, {"mcp-protocol-version": "2024-11-05"})
    assert_jsonrpc_error(refused, 400, "supported: 2025-11-25, 2026-07-28")
    allowed = post(configured_url, LIST_TOOLS, {"mcp-protocol-version": "2025-11-25"})
    assert allowed.status_code == 200


@pytest.mark.anyio
async def test_secret_reveal_needs_operator_consent(configured_url: str) -> None:
    async with mcp_client(configured_url) as client:
        masked = text_of(await client.call_tool("environmentDump", {}))
        shown = text_of(await client.call_tool("environmentDump", {"showSecrets": True}))
    assert "revealed-on-purpose" not in masked
    assert "revealed-on-purpose" in shown
