"""The assembled gateway, end to end through real Traefik with ForwardAuth on every route."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from scripts.stack import Stack
from testsupport.mcp_client import mcp_client, sampling_reply, text_of
from testsupport.oauth_client import TokenFor, login, register, sdk_auth

pytestmark = pytest.mark.anyio

SERVICES = ["echo-stateless", "echo-stateful", "fetch", "time", "everything"]
# The handshake (2024-11-05 … 2025-11-25, sessions) and 2026-07-28 (per-request).
ERAS = ["legacy", "2026-07-28"]
# One tool call per service that proves the service itself answered.
CALLS: dict[str, tuple[str, dict[str, Any], str]] = {
    "echo-stateless": ("echo", {"message": "hello stateless"}, "hello stateless"),
    "echo-stateful": ("echo", {"message": "hello stateful"}, "hello stateful"),
    "fetch": ("fetch", {"url": "http://169.254.169.254/"}, "cloud metadata"),
    "time": ("get_current_time", {"timezone": "UTC"}, "UTC"),
    "everything": ("echo", {"message": "hello everything"}, "hello everything"),
}


@pytest.mark.parametrize("service", SERVICES)
async def test_unauthenticated_requests_get_401_leading_to_the_server(
    gateway: Stack, service: str
) -> None:
    async with httpx2.AsyncClient() as http:
        answer = await http.post(f"{gateway.gateway_url}/{service}/mcp", json={})
        assert answer.status_code == 401
        challenge = answer.headers["www-authenticate"]
        pointer = challenge.split('resource_metadata="')[1].split('"')[0]
        assert pointer.endswith(f"/.well-known/oauth-protected-resource/{service}/mcp")
        resource = (await http.get(pointer)).json()
        assert resource["resource"] == f"{gateway.gateway_url}/{service}/mcp"
        server_url = resource["authorization_servers"][0]
        meta = (await http.get(f"{server_url}/.well-known/oauth-authorization-server")).json()
    assert meta["issuer"] == gateway.gateway_url
    assert meta["registration_endpoint"] == f"{gateway.gateway_url}/register"


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("service", SERVICES)
async def test_the_sdk_client_signs_in_by_itself_and_calls_tools(
    gateway: Stack, service: str, era: str
) -> None:
    """Discovery, registration, consent, sign-in and the call: all the SDK's own OAuth,
    the same whichever protocol era the client speaks."""
    url = f"{gateway.gateway_url}/{service}/mcp"
    tool, arguments, expected = CALLS[service]
    async with mcp_client(url, auth=sdk_auth(url), mode=era) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool(tool, arguments)
        spoken = client.protocol_version
    assert tool in tools
    assert expected in text_of(result)
    assert spoken == ("2025-11-25" if era == "legacy" else era)


async def test_identity_reaches_the_service_and_forged_headers_do_not(
    gateway: Stack, token_for: TokenFor
) -> None:
    forged = {"X-User-Id": "github:1", "X-User-Name": "root", "X-Client-Id": "forged"}
    async with mcp_client(
        f"{gateway.gateway_url}/echo-stateless/mcp",
        token=await token_for("echo-stateless"),
        headers=forged,
    ) as client:
        context = text_of(await client.call_tool("authContext", {}))
    assert "oidc:alice" in context
    assert "github:1" not in context and "root" not in context and "forged" not in context


async def test_a_token_for_one_service_does_not_open_another(
    gateway: Stack, token_for: TokenFor
) -> None:
    token = await token_for("echo-stateless")
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        other = await http.post(f"{gateway.gateway_url}/fetch/mcp", json={})
    assert other.status_code == 401
    assert 'error="invalid_token"' in other.headers["www-authenticate"]


async def test_revocation_takes_effect_on_the_next_request(gateway: Stack) -> None:
    base = gateway.gateway_url
    client = await register(base)
    tokens = await login(base, f"{base}/echo-stateless/mcp", client=client)
    url = f"{base}/echo-stateless/mcp"
    async with mcp_client(url, token=tokens["access_token"]) as session:
        assert text_of(await session.call_tool("echo", {"message": "before"})) == "before"
        async with httpx2.AsyncClient() as http:
            revoked = await http.post(
                f"{base}/revoke",
                data={"token": tokens["access_token"], "client_id": client["client_id"]},
            )
            assert revoked.status_code == 200
            after = await http.post(
                url,
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={
                    "Authorization": f"Bearer {tokens['access_token']}",
                    "Accept": "application/json, text/event-stream",
                },
            )
    assert after.status_code == 401


async def test_server_to_client_requests_and_progress_stream_through_traefik(
    gateway: Stack, token_for: TokenFor
) -> None:
    """A sampling request mid-call can only be answered if Traefik streams the SSE unbuffered.

    The tool waits for the client's answer before it returns: a buffered
    stream would hold the request back until the end, and the call would
    never finish. Progress notifications arrive before the final result.
    """
    events: list[str] = []

    sampling = sampling_reply("answered through Traefik", events, "sampling request")

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        events.append(f"progress {value:g}")

    async with mcp_client(
        f"{gateway.gateway_url}/everything/mcp",
        token=await token_for("everything"),
        sampling_callback=sampling,
        read_timeout_seconds=60,
    ) as client:
        sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hi"})
        events.append("sampling result")
        progressed = await client.call_tool(
            "trigger-long-running-operation",
            {"duration": 1, "steps": 2},
            progress_callback=on_progress,
        )
        events.append("progress result")
    assert "answered through Traefik" in text_of(sampled)
    assert "completed" in text_of(progressed)
    assert events == [
        "sampling request",
        "sampling result",
        "progress 1",
        "progress 2",
        "progress result",
    ]


async def test_progress_streams_through_traefik_in_the_modern_era(
    gateway: Stack, token_for: TokenFor
) -> None:
    """A 2026-07-28 request's own response is the stream: progress first, then the result."""
    events: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        events.append(f"progress {value:g}")

    async with mcp_client(
        f"{gateway.gateway_url}/everything/mcp",
        token=await token_for("everything"),
        mode="2026-07-28",
        read_timeout_seconds=60,
    ) as client:
        progressed = await client.call_tool(
            "trigger-long-running-operation",
            {"duration": 1, "steps": 2},
            progress_callback=on_progress,
        )
        events.append("result")
    assert "completed" in text_of(progressed)
    assert events == ["progress 1", "progress 2", "result"]
