"""Every tool through the official SDK client, in both protocol eras."""

from __future__ import annotations

import base64
import json
import time

import pytest
from mcp_types import CallToolResult

from testsupport.mcp_client import mcp_client, text_of

pytestmark = pytest.mark.anyio

NINE = {
    "echo",
    "printHeader",
    "bearerDecode",
    "authContext",
    "requestTiming",
    "corsAnalysis",
    "environmentDump",
    "healthProbe",
    "whoIStheGOAT",
}
ERAS = ["legacy", "2026-07-28"]


def fake_jwt(claims: dict[str, object]) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'kid': 'k1', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


async def call(
    url: str, tool: str, args: dict[str, object] | None = None, **kw: object
) -> CallToolResult:
    async with mcp_client(url, **kw) as client:  # type: ignore[arg-type]
        return await client.call_tool(tool, args or {})


@pytest.mark.parametrize("mode", ERAS)
async def test_lists_the_nine_tools_with_schemas(echo_url: str, mode: str) -> None:
    async with mcp_client(echo_url, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == NINE
    echo_schema = tools["echo"].input_schema
    assert echo_schema["required"] == ["message"]
    assert echo_schema["properties"]["message"]["type"] == "string"
    assert "header_name" in tools["printHeader"].input_schema["properties"]
    assert tools["bearerDecode"].input_schema["properties"]["includeRaw"]["type"] == "boolean"
    assert "showSecrets" in tools["environmentDump"].input_schema["properties"]


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("message", ["hello", "ünïcødé ✓ 🐐", "  spaces and\nnewlines  ", ""])
async def test_echo_returns_the_message_unchanged(echo_url: str, mode: str, message: str) -> None:
    result = await call(echo_url, "echo", {"message": message}, mode=mode)
    assert not result.is_error
    assert text_of(result) == message


@pytest.mark.parametrize("mode", ERAS)
async def test_print_header_shows_headers_and_masks_credentials(echo_url: str, mode: str) -> None:
    headers = {"X-Probe": "probe-value-42", "Authorization": "Bearer very-secret-token-xyz"}
    listing = text_of(await call(echo_url, "printHeader", headers=headers, mode=mode))
    assert "x-probe" in listing and "probe-value-42" in listing
    assert "very-secret-token-xyz" not in listing
    assert "Bearer" in listing and "masked" in listing

    asked = text_of(
        await call(echo_url, "printHeader", {"header_name": "Authorization"}, headers=headers)
    )
    assert asked == "Authorization: Bearer very-secret-token-xyz"

    one = text_of(await call(echo_url, "printHeader", {"header_name": "X-PROBE"}, headers=headers))
    assert one == "X-PROBE: probe-value-42"

    missing = text_of(await call(echo_url, "printHeader", {"header_name": "X-Nothing"}))
    assert "was not present" in missing


async def test_bearer_decode_reads_claims_and_says_it_did_not_verify(echo_url: str) -> None:
    exp = int(time.time()) + 3600
    token = fake_jwt({"sub": "github:42", "client_id": "client-abc", "exp": exp, "scope": "mcp"})
    out = text_of(
        await call(echo_url, "bearerDecode", headers={"Authorization": f"Bearer {token}"})
    )
    assert out.startswith("NOT VERIFIED")
    assert '"sub": "github:42"' in out
    assert '"client_id": "client-abc"' in out
    assert '"kid": "k1"' in out
    assert f"{exp} (" in out and "in " in out  # expiry rendered as a date, in the future
    assert token not in out

    raw = text_of(
        await call(
            echo_url,
            "bearerDecode",
            {"includeRaw": True},
            headers={"Authorization": f"Bearer {token}"},
        )
    )
    assert token in raw


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, "No bearer token"),
        ("Basic dXNlcjpwYXNz", "No bearer token"),
        ("Bearer not-a-jwt", "3 dot-separated parts"),
        ("Bearer a.b.c", "not base64url-encoded JSON"),
        ("Bearer " + base64.urlsafe_b64encode(b"[1]").decode() + ".e30.c2ln", "not an object"),
    ],
)
async def test_bearer_decode_explains_missing_or_garbled_tokens(
    echo_url: str, authorization: str | None, expected: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    result = await call(echo_url, "bearerDecode", headers=headers)
    assert not result.is_error
    assert expected in text_of(result)


async def test_auth_context_shows_gateway_identity(echo_url: str) -> None:
    token = fake_jwt({"sub": "github:7", "client_id": "cid-7", "aud": "http://gw/echo/mcp"})
    headers = {
        "X-User-Id": "github:7",
        "X-User-Name": "octocat",
        "X-Client-Id": "cid-7",
        "X-Scopes": "mcp:read mcp:write",
        "Authorization": f"Bearer {token}",
    }
    out = text_of(await call(echo_url, "authContext", headers=headers))
    for value in ("github:7", "octocat", "cid-7", "mcp:read mcp:write", "present"):
        assert value in out
    assert "Authenticated by the gateway" in out

    bare = text_of(await call(echo_url, "authContext"))
    assert "x-user-id" in bare and "(absent)" in bare
    assert "No gateway identity" in bare


async def test_request_timing_reports_server_side_figures(echo_url: str) -> None:
    out = text_of(await call(echo_url, "requestTiming"))
    for label in ("received at", "in server so far", "server uptime", "process rss", "threads"):
        assert label in out
    assert " ms" in out


async def test_cors_analysis_with_and_without_origin(echo_url: str) -> None:
    allowed = text_of(
        await call(
            echo_url,
            "corsAnalysis",
            headers={
                "Origin": "https://inspector.example",
                "Access-Control-Request-Method": "POST",
            },
        )
    )
    assert "https://inspector.example" in allowed
    assert "Origin allowed" in allowed
    assert "Access-Control-Expose-Headers: Mcp-Session-Id" in allowed

    none = text_of(await call(echo_url, "corsAnalysis"))
    assert "CORS does not apply" in none


async def test_environment_dump_masks_secrets(echo_url: str, secret_value: str) -> None:
    out = text_of(await call(echo_url, "environmentDump"))
    assert "DEMO_API_TOKEN" in out
    assert secret_value not in out
    assert "masked" in out
    assert "allowed_origins" in out  # configuration section

    asked = text_of(await call(echo_url, "environmentDump", {"showSecrets": True}))
    assert secret_value not in asked
    assert "MCP_ECHO_ALLOW_SECRET_REVEAL is off" in asked


async def test_health_probe_reports_host_and_process(echo_url: str) -> None:
    out = text_of(await call(echo_url, "healthProbe"))
    assert "status" in out
    assert "HEALTHY" in out or "DEGRADED" in out
    for label in ("host memory_percent", "host disk_percent", "process rss_mb", "server uptime"):
        assert label in out


async def test_goat_names_the_signed_in_user(echo_url: str) -> None:
    out = text_of(await call(echo_url, "whoIStheGOAT", headers={"X-User-Name": "ada"}))
    assert "ada" in out
    anonymous = text_of(await call(echo_url, "whoIStheGOAT"))
    assert "Greatest Of All Time" in anonymous
