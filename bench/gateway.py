"""Through the gateway vs straight to the service: tool calls/s and p50/p99, 16 clients.

The local stack (scripts/stack.py) runs the real Traefik with the production
routes, ForwardAuth included: every call through the gateway is first checked
by the auth service's /verify. The same echo server is measured through it
(with a real access token, obtained through consent and sign-in) and
directly, with the same client, in the same run; through the gateway in both
protocol eras: handshake-era sessions and 2026-07-28 per-request calls.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.echo import _client_factory
from bench.harness import Result, in_rounds, print_table
from scripts.stack import Stack
from testsupport.net import free_port
from testsupport.oauth_client import login

CONCURRENCY = 16
ROUNDS = 4
ROUND_SECONDS = 2.5
MODERN = "2026-07-28"


async def _measure(targets: dict[str, tuple[str, str | None, str]]) -> list[Result]:
    factories = {
        subject: _client_factory(url, token, mode)
        for subject, (url, token, mode) in targets.items()
    }
    return await in_rounds(factories, concurrency=CONCURRENCY, rounds=ROUNDS, seconds=ROUND_SECONDS)


def main() -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    with Stack(gateway_port=free_port(), state_dir=state_dir) as stack:
        direct = {s.name: s.url for s in stack.services}
        for service in ("echo-stateless", "echo-stateful"):
            routed = f"{stack.gateway_url}/{service}/mcp"
            token = asyncio.run(login(stack.gateway_url, routed))["access_token"]
            results = asyncio.run(
                _measure(
                    {
                        f"{service} direct": (f"{direct[service]}/mcp", None, "legacy"),
                        f"{service} via gateway": (routed, token, "legacy"),
                        f"{service} direct, {MODERN}": (f"{direct[service]}/mcp", None, MODERN),
                        f"{service} via gateway, {MODERN}": (routed, token, MODERN),
                    }
                )
            )
            print_table(
                f"{service}: {CONCURRENCY} clients, echo tool calls (handshake era unless named)",
                f"{service} direct",
                results,
            )
            by_subject = {r.subject: r.per_second for r in results}
            modern = by_subject[f"{service} via gateway, {MODERN}"]
            handshake = by_subject[f"{service} via gateway"]
            print(
                f"via gateway: {MODERN} / handshake era = {modern / handshake:.2f}x; "
                f"gateway / direct in {MODERN} = "
                f"{modern / by_subject[f'{service} direct, {MODERN}']:.2f}x"
            )
