"""Echo servers vs the smallest SDK server: tool calls/s and p50/p99 at 1 and 16 clients.

Each client holds one MCP session (SDK client, initialize handshake) and calls
`echo` in a closed loop. Every server runs as its own process, all at once, and
the subjects take turns in rounds; the client code is the same for all. The
baseline is the SDK's default (SSE answers); the SDK in JSON mode is shown too,
since the echo servers answer JSON whenever the client accepts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from bench.harness import Call, ClientFactory, Result, in_rounds, print_table
from testsupport.mcp_client import mcp_client
from testsupport.net import free_port, wait_port
from testsupport.processes import ManagedProcess

CONCURRENCY = (1, 16)
DURATION = 6.0  # per subject and concurrency, in ROUNDS turns


def _client_factory(url: str, token: str | None = None, mode: str = "legacy") -> ClientFactory:
    """One MCP client per simulated client (a session in the handshake era), calling `echo`
    and failing on a tool error."""

    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[Call]:
        async with mcp_client(url, token=token, mode=mode) as client:

            async def call() -> object:
                result = await client.call_tool("echo", {"message": "ping"})
                if result.is_error:
                    raise RuntimeError(str(result.content))
                return result

            yield call

    return factory


ROUNDS = 3


def _measure(urls: dict[str, str]) -> dict[str, list[Result]]:
    """Per subject, one merged result for each concurrency."""
    results: dict[str, list[Result]] = {subject: [] for subject in urls}
    factories = {subject: _client_factory(url) for subject, url in urls.items()}
    for concurrency in CONCURRENCY:
        measured = asyncio.run(
            in_rounds(factories, concurrency=concurrency, rounds=ROUNDS, seconds=DURATION / ROUNDS)
        )
        for result in measured:
            results[result.subject].append(result)
    return results


def main() -> None:
    logs = Path(tempfile.mkdtemp(prefix="bench-echo-"))
    baseline = [sys.executable, "-m", "bench._sdk_echo_server"]

    def echo_server(name: str) -> list[str]:
        path = shutil.which(name)
        if path is None:
            raise SystemExit(f"{name} is not installed: run `just setup`")
        return [path, "--port"]

    subjects = {
        "sdk baseline (stateless)": (baseline, []),
        "sdk baseline (stateless, JSON)": (baseline, ["--json"]),
        "echo-stateless": (echo_server("mcp-echo-streamablehttp-server-stateless"), []),
        "sdk baseline (stateful)": (baseline, ["--stateful"]),
        "sdk baseline (stateful, JSON)": (baseline, ["--stateful", "--json"]),
        "echo-stateful": (echo_server("mcp-echo-streamablehttp-server-stateful"), []),
    }
    with contextlib.ExitStack() as running:
        urls: dict[str, str] = {}
        for subject, (argv, extra) in subjects.items():
            port = free_port()
            proc = running.enter_context(
                ManagedProcess([*argv, str(port), *extra], log_path=logs / f"{port}.log")
            )
            try:
                wait_port("127.0.0.1", port, timeout=30)
            except TimeoutError as exc:
                raise SystemExit(f"{subject}: {exc}\n{proc.log()[-2000:]}") from None
            urls[subject] = f"http://127.0.0.1:{port}/mcp"
        stateless = [s for s in subjects if "stateless" in s]
        stateful = [s for s in subjects if "stateful" in s]
        results = {
            **_measure({s: urls[s] for s in stateless}),
            **_measure({s: urls[s] for s in stateful}),
        }

    print_table(
        "echo tool calls, stateless servers (SDK client, one session per client)",
        "sdk baseline (stateless)",
        [r for s in stateless for r in results[s]],
    )
    print_table(
        "echo tool calls, stateful servers",
        "sdk baseline (stateful)",
        [r for s in stateful for r in results[s]],
    )
