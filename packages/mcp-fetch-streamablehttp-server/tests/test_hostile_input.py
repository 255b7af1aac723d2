"""Generated hostile JSON-RPC against the fetch server, in both protocol eras.

No 5xx, and the server still answers afterwards. Hostile `fetch` arguments
(junk URLs, private and loopback targets, wrong types, absurd numbers) get a
tool error, and none of them makes a connection: a loopback listener counts
what reaches it, the connect hook records every attempt, and the resolver
reads numeric hosts only, so not even a DNS query leaves this machine.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp_fetch_streamablehttp_server.config import Settings
from mcp_fetch_streamablehttp_server.server import create_app
from mcp_oauth_gateway_core.ssrf import IPAddress

from testsupport.jsonrpc_fuzz import bodies, json_values, modern_exchanges, tool_calls
from testsupport.mcp_client import mcp_client, text_of
from testsupport.processes import serve_app
from testsupport.witnesses import CountingListener, RecordingBackend

NUMERIC = socket.AI_NUMERICHOST
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


class NumericOnly:
    """Resolves numeric hosts as the OS does (0x7f000001 too) and no names: no DNS query."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=NUMERIC)
        except (socket.gaierror, UnicodeError, ValueError):
            return []
        return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


@dataclass
class Hostile:
    url: str
    listener: CountingListener
    backend: RecordingBackend


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    listener = CountingListener()
    backend = RecordingBackend()
    app = create_app(Settings(total_timeout=3.0), resolver=NumericOnly(), network_backend=backend)
    with serve_app(app) as url:
        yield Hostile(url + "/mcp", listener, backend)
    listener.close()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=15) as client:
        yield client


def fetch_arguments(port: int) -> st.SearchStrategy[object]:
    hosts = st.sampled_from(
        [
            f"127.0.0.1:{port}",
            f"localhost:{port}",
            f"[::1]:{port}",
            f"0x7f000001:{port}",
            f"[::ffff:127.0.0.1]:{port}",
            "169.254.169.254",
            "10.0.0.1",
            "metadata.google.internal",
            "",
        ]
    )
    urls = st.one_of(
        st.builds(
            lambda scheme, host, path: f"{scheme}://{host}/{path}",
            st.sampled_from(["http", "https", "file", "gopher", "ftp", "javascript", "HTTP"]),
            hosts,
            st.text(max_size=30),
        ),
        st.text(max_size=60),
        st.integers(1, 10_000).map(lambda n: "http://" + "a" * n + ".test/"),
        json_values,
    )
    return st.fixed_dictionaries(
        {"url": urls},
        optional={
            "max_length": st.one_of(st.integers(), st.text(max_size=5), json_values),
            "start_index": st.one_of(st.integers(), st.floats(allow_nan=True), json_values),
            "raw": json_values,
            "extra": json_values,
        },
    )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_generated_requests_never_get_a_server_error(
    hostile: Hostile, http: httpx2.Client, data: st.DataObject
) -> None:
    body = data.draw(st.one_of(bodies, tool_calls("fetch", fetch_arguments(hostile.listener.port))))
    for version in (None, "2025-11-25"):
        headers = {**HEADERS, **({"mcp-protocol-version": version} if version else {})}
        response = http.post(hostile.url, content=body, headers=headers)
        assert response.status_code < 500, (body, response.status_code, response.text[:300])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exchange=modern_exchanges(tool_names=("fetch",)))
def test_generated_modern_requests_never_get_a_server_error(
    hostile: Hostile, http: httpx2.Client, exchange: tuple[dict[str, str], bytes]
) -> None:
    extra, body = exchange
    response = http.post(hostile.url, content=body, headers={**HEADERS, **extra})
    assert response.status_code < 500, (extra, body, response.status_code, response.text[:300])


def test_no_hostile_argument_made_a_connection(hostile: Hostile) -> None:
    assert hostile.listener.accepted == 0
    assert hostile.backend.attempts == []


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_still_answers_after_the_storm(hostile: Hostile, mode: str) -> None:
    async with mcp_client(hostile.url, mode=mode) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        refused = await client.call_tool("fetch", {"url": "http://169.254.169.254/latest"})
    assert tools == ["fetch"]
    assert refused.is_error and "169.254.169.254" in text_of(refused)
