"""Scale-out through real Traefik: several replicas of a service behind its load balancer.

MCP 2026-07-28 requests carry no session, so any replica serves any request: calls
spread over the replicas with no affinity. Handshake-era sessions live in one
replica; the sticky cookie from the compose labels keeps each client on its own.
A replica that dies leaves the load balancer at its next health check.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator

import pytest

from scripts.stack import Stack
from testsupport.mcp_client import mcp_client, text_of
from testsupport.net import free_port
from testsupport.oauth_client import login

pytestmark = pytest.mark.anyio

REPLICAS = {"echo-stateless": 2, "fetch": 2, "echo-stateful": 2}
# CLF access log: ... "<router>@file" "<server URL>" <duration>ms
ACCESS = re.compile(r'"POST (/[^/ ]+)/mcp HTTP/1.1" (\d{3}) .* "([^"]+)@file" "([^"]+)" \d+ms$')


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(
        gateway_port=free_port(),
        state_dir=tmp_path_factory.mktemp("scaled-stack"),
        replicas=REPLICAS,
    ) as stack:
        yield stack


def served_by(stack: Stack, router: str) -> Counter[str]:
    """Which replica (server URL) Traefik sent each successful MCP POST of `router` to."""
    log = (stack.state_dir / "logs" / "traefik-access.log").read_text()
    seen: Counter[str] = Counter()
    for line in log.splitlines():
        match = ACCESS.search(line)
        if match and match.group(3) == router and match.group(2) == "200":
            seen[match.group(4)] += 1
    return seen


def replica_urls(stack: Stack, name: str) -> set[str]:
    return {svc.url for svc in stack.services if svc.name == name}


@pytest.mark.parametrize("service", ["echo-stateless", "fetch"])
async def test_modern_requests_spread_over_every_replica(scaled: Stack, service: str) -> None:
    url = f"{scaled.gateway_url}/{service}/mcp"
    token = (await login(scaled.gateway_url, url))["access_token"]
    before = served_by(scaled, service)

    async def one_client(n: int) -> list[str]:
        async with mcp_client(url, token=token, mode="2026-07-28") as client:
            if service == "fetch":
                metadata = {"url": "http://169.254.169.254/latest/meta-data/"}
                calls = [client.call_tool("fetch", metadata) for _ in range(5)]
            else:
                calls = [client.call_tool("echo", {"message": f"{n}-{i}"}) for i in range(5)]
            return [text_of(await call) for call in calls]

    answers = await asyncio.gather(*(one_client(n) for n in range(1, 5)))
    spread = served_by(scaled, service) - before
    assert set(spread) == replica_urls(scaled, service), spread  # both replicas served
    for n, texts in enumerate(answers, start=1):
        if service == "fetch":
            assert all("cloud metadata" in text for text in texts), texts  # the tool refused
        else:
            assert texts == [f"{n}-{i}" for i in range(5)]


async def test_handshake_sessions_stay_on_their_replica(scaled: Stack) -> None:
    """Without affinity, half of a session's requests would reach the replica that never
    heard of it (404). Every call succeeds, and both replicas hold sessions."""
    url = f"{scaled.gateway_url}/echo-stateful/mcp"
    token = (await login(scaled.gateway_url, url))["access_token"]

    async def one_session(n: int) -> list[str]:
        async with mcp_client(url, token=token, mode="legacy") as client:
            for i in range(5):
                await client.call_tool("echo", {"message": f"{n}-{i}"})
            replay = text_of(await client.call_tool("replayLastEcho", {}))
            info = text_of(await client.call_tool("sessionInfo", {}))
            return [replay, info]

    results = await asyncio.gather(*(one_session(n) for n in range(4)))
    for n, (replay, _) in enumerate(results):
        assert f"{n}-4" in replay
    assert set(served_by(scaled, "echo-stateful")) == replica_urls(scaled, "echo-stateful")


async def test_a_dead_replica_leaves_the_load_balancer(scaled: Stack) -> None:
    url = f"{scaled.gateway_url}/echo-stateless/mcp"
    token = (await login(scaled.gateway_url, url))["access_token"]
    victim = next(s for s in scaled.services if s.name == "echo-stateless" and s.replica == 2)
    assert victim.process is not None
    victim.process.stop()
    survivor = replica_urls(scaled, "echo-stateless") - {victim.url}
    # Requests may fail until the next health check (every 5 s) marks it down.
    before = served_by(scaled, "echo-stateless")
    failures = 0
    healthy_in_a_row = 0
    for attempt in range(600):  # bounded: ~30 s at most
        try:
            async with mcp_client(url, token=token, mode="2026-07-28") as client:
                result = await client.call_tool("echo", {"message": f"after {attempt}"})
            healthy_in_a_row = healthy_in_a_row + 1 if not result.is_error else 0
        except Exception:
            failures += 1
            healthy_in_a_row = 0
            await asyncio.sleep(0.05)
        if healthy_in_a_row == 20:
            break
    assert healthy_in_a_row == 20, f"no recovery; {failures} failed calls"
    assert set(served_by(scaled, "echo-stateless") - before) == survivor
