"""Generated hostile JSON-RPC inside and outside a session, and in the 2026-07-28 era.

No 5xx, the session survives, and a modern-era client is still served afterwards.
"""

from __future__ import annotations

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings

from testsupport.jsonrpc_fuzz import bodies, modern_exchanges
from testsupport.mcp_client import initialize_body, mcp_client, text_of

HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INITIALIZE = initialize_body("fuzz")
ECHO = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "echo", "arguments": {"message": "still here"}},
}


@pytest.fixture(scope="module")
def session(stateful_url: str) -> tuple[httpx2.Client, str]:
    http = httpx2.Client(timeout=10)
    opened = http.post(stateful_url, json=INITIALIZE, headers=HEADERS)
    session_id = opened.headers["mcp-session-id"]
    http.post(
        stateful_url,
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers={**HEADERS, "mcp-session-id": session_id},
    )
    return http, session_id


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_generated_requests_never_get_a_server_error(
    stateful_url: str, session: tuple[httpx2.Client, str], body: bytes
) -> None:
    http, session_id = session
    for extra in ({}, {"mcp-session-id": session_id}):
        response = http.post(stateful_url, content=body, headers={**HEADERS, **extra})
        assert response.status_code < 500, (body, response.status_code, response.text[:300])


def test_the_session_still_answers(stateful_url: str, session: tuple[httpx2.Client, str]) -> None:
    http, session_id = session
    response = http.post(stateful_url, json=ECHO, headers={**HEADERS, "mcp-session-id": session_id})
    assert response.status_code == 200
    assert response.json()["result"]["content"][0]["text"] == "still here"


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exchange=modern_exchanges(tool_names=("echo", "replayLastEcho", "sessionInfo")))
def test_generated_modern_requests_never_get_a_server_error(
    stateful_url: str, session: tuple[httpx2.Client, str], exchange: tuple[dict[str, str], bytes]
) -> None:
    """2026-07-28 envelopes and routing headers, each sometimes wrong, never a session."""
    http, _ = session
    extra, body = exchange
    response = http.post(stateful_url, content=body, headers={**HEADERS, **extra})
    assert response.status_code < 500, (extra, body, response.status_code, response.text[:300])


@pytest.mark.anyio
async def test_a_modern_client_is_still_served(stateful_url: str) -> None:
    async with mcp_client(stateful_url, mode="2026-07-28") as client:
        result = await client.call_tool("echo", {"message": "modern, after the storm"})
    assert text_of(result) == "modern, after the storm"
