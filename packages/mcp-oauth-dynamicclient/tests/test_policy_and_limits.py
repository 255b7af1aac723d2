"""Per-tool policy at /verify (MCP 2026-07-28 routing headers) and per-address rate limits."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest
from mcp.shared.inbound import encode_header_value

from testsupport.authserver import AuthServer, run_auth_server
from testsupport.valkey import ValkeyProcess

pytestmark = pytest.mark.anyio

POLICY = {
    "services": {
        "fetch": {"rules": [{"method": "tools/call", "name": "fetch", "scopes": ["mcp:fetch"]}]},
        "echo-stateless": {
            "handshake": "deny",
            "rules": [
                {"method": "tools/call", "name": "environmentDump", "users": ["github:4242"]},
                {"method": "tools/call", "name": "printHeader", "clients": ["trusted-app"]},
            ],
        },
    }
}
MODERN = "2026-07-28"


def call(name: str, method: str = "tools/call") -> dict[str, str]:
    return {
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
        "Mcp-Name": encode_header_value(name) or name,
    }


@pytest.fixture
def policed(valkey_server: ValkeyProcess) -> Iterator[AuthServer]:
    with run_auth_server(valkey_server.url, policy=json.dumps(POLICY), service_scopes="") as server:
        yield server


async def test_a_tool_needing_a_scope_asks_for_step_up(policed: AuthServer) -> None:
    client = await policed.register()
    plain = await policed.login(client, service="fetch", scope="mcp")
    listing = await policed.verify(plain["access_token"], "fetch", **call("", "tools/list"))
    assert listing.status_code == 200  # only the fetch tool is guarded
    refused = await policed.verify(plain["access_token"], "fetch", **call("fetch"))
    assert refused.status_code == 403
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="mcp mcp:fetch"' in challenge
    stepped = await policed.login(client, service="fetch", scope="mcp mcp:fetch")
    assert (
        await policed.verify(stepped["access_token"], "fetch", **call("fetch"))
    ).status_code == 200


async def test_a_tool_reserved_for_other_users_is_a_plain_403(policed: AuthServer) -> None:
    client = await policed.register()
    tokens = await policed.login(client)
    refused = await policed.verify(tokens["access_token"], **call("environmentDump"))
    assert refused.status_code == 403
    assert "www-authenticate" not in refused.headers  # no step-up can help
    error = refused.json()["error"]  # a JSON-RPC error, which MCP clients show as it is
    assert error["code"] == -32003 and error["data"]["error"] == "access_denied"
    assert "environmentDump" in error["message"]
    assert (await policed.verify(tokens["access_token"], **call("echo"))).status_code == 200


async def test_client_rules_and_name_patterns(policed: AuthServer) -> None:
    client = await policed.register()
    tokens = await policed.login(client)
    assert (await policed.verify(tokens["access_token"], **call("printHeader"))).status_code == 403


async def test_handshake_requests_follow_the_service_rule(policed: AuthServer) -> None:
    client = await policed.register(grant_types=["authorization_code"])
    echo = await policed.login(client)
    other = await policed.login(client, service="echo-stateful")
    handshake = {
        "MCP-Protocol-Version": "2025-11-25",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "echo",
    }
    denied = await policed.verify(echo["access_token"], **handshake)
    assert denied.status_code == 403 and "2026-07-28" in denied.json()["error"]["message"]
    assert (await policed.verify(echo["access_token"])).status_code == 403  # no headers at all
    allowed = await policed.verify(other["access_token"], "echo-stateful", **handshake)
    assert allowed.status_code == 200  # no policy for this service


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_a_bad_policy_stops_the_service_from_starting(valkey_server: ValkeyProcess) -> None:
    with pytest.raises(RuntimeError), run_auth_server(valkey_server.url, policy='{"services": 3}'):
        pass


async def test_registration_is_rate_limited_with_retry_after(valkey_server: ValkeyProcess) -> None:
    with run_auth_server(valkey_server.url, rate_limit_register="3/60", trusted_proxies="") as auth:
        body = {"redirect_uris": ["http://127.0.0.1/cb"]}
        async with httpx2.AsyncClient() as http:
            answers = [await http.post(f"{auth.url}/register", json=body) for _ in range(5)]
            # X-Forwarded-For from an untrusted peer is ignored: no way around the limit.
            spoofed = await http.post(
                f"{auth.url}/register", json=body, headers={"X-Forwarded-For": "203.0.113.9"}
            )
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    assert answers[-1].json()["error"] == "slow_down"
    assert spoofed.status_code == 429


async def test_token_and_authorize_are_rate_limited(valkey_server: ValkeyProcess) -> None:
    with run_auth_server(
        valkey_server.url, rate_limit_token="2/60", rate_limit_authorize="2/60"
    ) as auth:
        async with httpx2.AsyncClient() as http:
            tokens = [
                await http.post(f"{auth.url}/token", data={"grant_type": "x"}) for _ in range(3)
            ]
            pages = [await http.get(f"{auth.url}/authorize") for _ in range(3)]
    assert [t.status_code for t in tokens] == [401, 401, 429]
    assert [p.status_code for p in pages] == [400, 400, 429]


async def test_behind_a_trusted_proxy_each_client_address_counts_alone(
    valkey_server: ValkeyProcess,
) -> None:
    with run_auth_server(
        valkey_server.url, rate_limit_register="1/60", trusted_proxies="127.0.0.1/32"
    ) as auth:
        body = {"redirect_uris": ["http://127.0.0.1/cb"]}
        async with httpx2.AsyncClient() as http:

            async def from_(address: str) -> int:
                answer = await http.post(
                    f"{auth.url}/register", json=body, headers={"X-Forwarded-For": address}
                )
                return answer.status_code

            assert [await from_("198.51.100.1"), await from_("198.51.100.2")] == [201, 201]
            assert await from_("198.51.100.1") == 429
