"""Generated hostile JSON-RPC: never a 5xx, and the server keeps answering."""

from __future__ import annotations

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings

from testsupport.jsonrpc_fuzz import bodies, modern_exchanges
from testsupport.mcp_client import mcp_client, text_of

HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
LIST_TOOLS = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'


@pytest.fixture(scope="module")
def http() -> httpx2.Client:
    return httpx2.Client(timeout=10)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_generated_requests_never_get_a_server_error(
    echo_url: str, http: httpx2.Client, body: bytes
) -> None:
    for version in (None, "2026-07-28"):
        headers = dict(HEADERS)
        if version:
            headers["mcp-protocol-version"] = version
        response = http.post(echo_url, content=body, headers=headers)
        assert response.status_code < 500, (body, response.status_code, response.text[:300])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exchange=modern_exchanges(tool_names=("echo", "printHeader", "environmentDump")))
def test_generated_modern_requests_never_get_a_server_error(
    echo_url: str, http: httpx2.Client, exchange: tuple[dict[str, str], bytes]
) -> None:
    """2026-07-28 envelopes and routing headers, each sometimes wrong."""
    extra, body = exchange
    response = http.post(echo_url, content=body, headers={**HEADERS, **extra})
    assert response.status_code < 500, (extra, body, response.status_code, response.text[:300])


def test_still_answers_after_the_storm(echo_url: str, http: httpx2.Client) -> None:
    response = http.post(echo_url, content=LIST_TOOLS, headers=HEADERS)
    assert response.status_code == 200
    assert len(response.json()["result"]["tools"]) == 9


@pytest.mark.anyio
async def test_a_modern_client_is_still_served(echo_url: str) -> None:
    async with mcp_client(echo_url, mode="2026-07-28") as client:
        result = await client.call_tool("echo", {"message": "modern, after the storm"})
    assert text_of(result) == "modern, after the storm"
