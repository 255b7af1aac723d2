"""Generated hostile JSON-RPC against every MCP service through the gateway, with real tokens.

The package suites fuzz each server alone; this sends the same shapes through
Traefik and /verify to the services as deployed, the proxied official
servers (`time`, `everything`) included: outside a session and inside one, in
the handshake era and as 2026-07-28 requests. No answer is a 5xx, no process
dies, sessions the fuzz opened are closed again (so no proxy child is left),
and every service still serves a real client afterwards. The proxies run with a 20 s
request timeout here: a request a wrapped server drops unanswered is answered by the
proxy with a JSON-RPC timeout error when it runs out (the stack's 300 s would stall the
fuzz), while a real call on a loaded machine still has room.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings

from scripts.stack import Stack
from tests.reliability.harness import MCP_SERVICES, PROXIED, Control, Signed
from testsupport.jsonrpc_fuzz import bodies, modern_exchanges
from testsupport.mcp_client import initialize_body, mcp_client, text_of

pytestmark = pytest.mark.slow

ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INITIALIZE = initialize_body("fuzz")
TOOLS = {
    "echo-stateless": ("echo", "printHeader"),
    "echo-stateful": ("echo", "replayLastEcho"),
    "fetch": ("fetch",),
    "time": ("get_current_time", "convert_time"),
    "everything": ("echo", "get-sum"),
}
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


class Target:
    """One service behind the gateway: a token, an open session, and the sessions fuzz opened."""

    def __init__(self, base: str, service: str, token: str) -> None:
        self.url = f"{base}/{service}/mcp"
        self.http = httpx2.Client(
            timeout=30, headers={**ACCEPT, "authorization": f"Bearer {token}"}
        )
        opened = self.http.post(self.url, json=INITIALIZE)
        assert opened.status_code == 200, opened.text
        # Stateless services open no session; a made-up id is then what "inside" means.
        self.stateful = "mcp-session-id" in opened.headers
        self.session = opened.headers.get("mcp-session-id", "no-such-session")
        self.http.post(
            self.url,
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
            headers={"mcp-session-id": self.session} if self.stateful else {},
        )

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx2.Response:
        answer = self.http.post(self.url, content=body, headers=headers or {})
        opened = answer.headers.get("mcp-session-id")
        if opened and opened != self.session:  # a generated initialize opened one: close it
            self.http.delete(self.url, headers={"mcp-session-id": opened})
        return answer


@pytest.fixture(scope="module")
def short_proxy_timeouts(reliability_stack: Stack, signed: Signed) -> Iterator[None]:
    """The proxies with a 20 s request timeout for this module (the stack runs 300 s).

    The proxy refuses what is not JSON-RPC 2.0 at once; a well-formed request a wrapped
    server still drops gets the proxy's JSON-RPC timeout error once the timeout is up.
    """
    control = Control(reliability_stack, {n: signed.access(n) for n in signed.tokens})
    with contextlib.ExitStack() as stack:
        for name in PROXIED:
            stack.enter_context(control.configured(name, {"MCP_PROXY_REQUEST_TIMEOUT": "20"}))
        yield


@pytest.fixture(scope="module")
def targets(
    reliability_stack: Stack, signed: Signed, short_proxy_timeouts: None
) -> Iterator[dict[str, Target]]:
    found = {
        name: Target(reliability_stack.gateway_url, name, signed.access(name))
        for name in MCP_SERVICES
    }
    yield found
    for target in found.values():
        if target.stateful:
            target.http.delete(target.url, headers={"mcp-session-id": target.session})
        target.http.close()


def no_server_error(answer: httpx2.Response, sent: object) -> None:
    assert answer.status_code < 500, (sent, answer.status_code, answer.text[:300])


@pytest.mark.parametrize("service", MCP_SERVICES)
@FUZZ
@given(body=bodies)
def test_generated_handshake_era_requests_never_get_a_server_error(
    targets: dict[str, Target], service: str, body: bytes
) -> None:
    target = targets[service]
    no_server_error(target.post(body), body)
    no_server_error(target.post(body, {"mcp-session-id": target.session}), body)


@pytest.mark.parametrize("service", MCP_SERVICES)
@FUZZ
@given(data=modern_exchanges())
def test_generated_2026_requests_never_get_a_server_error(
    targets: dict[str, Target], service: str, data: tuple[dict[str, str], bytes]
) -> None:
    extra, body = data
    no_server_error(targets[service].post(body, extra), (extra, body))


def test_nothing_died_and_no_fuzz_session_kept_a_child(
    reliability_stack: Stack, control: Control, targets: dict[str, Target]
) -> None:
    assert not reliability_stack.failed()
    for name in PROXIED:
        count, _ = control.children_rss(name)
        # The fixture's own session holds one child (and its descendants); the pool may warm one.
        assert count <= 6, (name, count)


@pytest.mark.anyio
@pytest.mark.parametrize("service", MCP_SERVICES)
async def test_every_service_still_serves_a_real_client(
    reliability_stack: Stack, signed: Signed, targets: dict[str, Target], service: str
) -> None:
    url = f"{reliability_stack.gateway_url}/{service}/mcp"
    async with mcp_client(url, token=signed.access(service)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        if service == "time":
            result = await client.call_tool("get_current_time", {"timezone": "UTC"})
            expected = "UTC"
        elif service == "fetch":
            result = await client.call_tool("fetch", {"url": "http://169.254.169.254/"})
            expected = "169.254.169.254"
        else:
            result = await client.call_tool("echo", {"message": "after the fuzz"})
            expected = "after the fuzz"
    assert set(TOOLS[service]) <= names
    assert expected in text_of(result)
