"""Through the gateway vs straight to the service: tool calls/s and p50/p99, 16 sessions.

The local stack (scripts/stack.py) runs the real Traefik with the production
routes, ForwardAuth included: every call through the gateway is first checked
by the auth service's /verify. The same echo server is measured through it
(with a real access token, obtained through consent and sign-in) and
directly, with the same client, in the same run.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.echo import _client_factory
from bench.harness import Result, print_table, run_load
from scripts.stack import Stack
from testsupport.net import free_port
from testsupport.oauth_client import login

CONCURRENCY = 16
DURATION = 5.0


async def _measure(targets: dict[str, tuple[str, str | None]]) -> list[Result]:
    results = []
    for subject, (url, token) in targets.items():
        results.append(
            await run_load(
                subject,
                _client_factory(url, token),
                concurrency=CONCURRENCY,
                duration=DURATION,
            )
        )
    return results


def main() -> None:
    stack = Stack(gateway_port=free_port(), state_dir=Path(tempfile.mkdtemp(prefix="bench-gw-")))
    stack.start()
    try:
        direct = {s.name: s.url for s in stack.services}
        for service in ("echo-stateless", "echo-stateful"):
            routed = f"{stack.gateway_url}/{service}/mcp"
            token = asyncio.run(login(stack.gateway_url, routed))["access_token"]
            results = asyncio.run(
                _measure(
                    {
                        f"{service} direct": (f"{direct[service]}/mcp", None),
                        f"{service} via gateway": (routed, token),
                    }
                )
            )
            print_table(
                f"{service}: {CONCURRENCY} sessions, echo tool calls",
                f"{service} direct",
                results,
            )
    finally:
        stack.stop()
