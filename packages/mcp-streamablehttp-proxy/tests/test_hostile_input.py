"""Generated hostile JSON-RPC inside and outside a session, and per request (2026-07-28):
no 5xx, and the session and the pool child survive."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from proxy_testkit import ACCEPT_BOTH, Proxy, initialize, rpc_body, running_proxy

from testsupport.jsonrpc_fuzz import bodies, modern_exchanges
from testsupport.mcp_client import mcp_client, text_of

WHOAMI = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami"}}


@pytest.fixture(scope="module")
def limited_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Few sessions, short timeouts: generated initializes hit the limit instead of piling up."""
    with running_proxy(
        tmp_path_factory.mktemp("hostile"),
        "--max-sessions",
        "4",
        "--request-timeout",
        "2",
        "--pool-size",
        "1",
    ) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def session(limited_proxy: Proxy) -> Iterator[tuple[httpx2.Client, str]]:
    with httpx2.Client(timeout=10) as http:
        yield http, initialize(http, limited_proxy.url)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_generated_requests_never_get_a_server_error(
    limited_proxy: Proxy, session: tuple[httpx2.Client, str], body: bytes
) -> None:
    http, session_id = session
    for extra in ({}, {"mcp-session-id": session_id}):
        response = http.post(limited_proxy.url, content=body, headers={**ACCEPT_BOTH, **extra})
        refused_for_capacity = response.status_code == 503 and "session limit" in response.text
        assert response.status_code < 500 or refused_for_capacity, (
            body,
            response.status_code,
            response.text[:300],
        )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exchange=modern_exchanges(tool_names=("echo", "whoami", "region")))
def test_generated_per_request_calls_never_get_a_server_error(
    limited_proxy: Proxy, session: tuple[httpx2.Client, str], exchange: tuple[dict[str, str], bytes]
) -> None:
    """2026-07-28 envelopes and routing headers, half right (they reach the pool child)."""
    http, _ = session
    extra, body = exchange
    response = http.post(limited_proxy.url, content=body, headers={**ACCEPT_BOTH, **extra})
    assert response.status_code < 500, (extra, body, response.status_code, response.text[:300])


def test_the_pool_child_still_answers(limited_proxy: Proxy) -> None:
    async def main() -> str:
        async with mcp_client(limited_proxy.url, mode="2026-07-28") as client:
            return text_of(await client.call_tool("whoami", {}))

    assert anyio.run(main).isdigit()
    pool = httpx2.get(limited_proxy.base + "/health", timeout=10).json()["pool"]
    assert pool["children"] == 1 and pool["in_flight"] == 0


def test_the_session_still_answers(
    limited_proxy: Proxy, session: tuple[httpx2.Client, str]
) -> None:
    http, session_id = session
    response = http.post(
        limited_proxy.url, json=WHOAMI, headers={**ACCEPT_BOTH, "mcp-session-id": session_id}
    )
    assert response.status_code == 200
    assert rpc_body(response)[-1]["result"]["content"][0]["text"].isdigit()  # type: ignore[index]
    assert http.get(limited_proxy.base + "/health").status_code == 200
