"""Echo servers vs the smallest SDK server: tool calls/s and p50/p99 at 1 and 16 clients.

Each client holds one MCP session (SDK client, initialize handshake) and calls
`echo` in a closed loop. Every server runs as its own process; the client code
is the same for all. The baseline is the SDK's default (SSE answers); the
SDK in JSON mode is shown too, since the echo servers answer JSON whenever
the client accepts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from bench.harness import Call, ClientFactory, Result, print_table, run_load
from testsupport.mcp_client import mcp_client
from testsupport.net import free_port, wait_port
from testsupport.processes import ManagedProcess

CONCURRENCY = (1, 16)
DURATION = 4.0


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


async def _measure(subject: str, url: str) -> list[Result]:
    results = []
    for concurrency in CONCURRENCY:
        results.append(
            await run_load(
                subject,
                _client_factory(url),
                concurrency=concurrency,
                duration=DURATION,
            )
        )
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
    results: dict[str, list[Result]] = {}
    for subject, (argv, extra) in subjects.items():
        port = free_port()
        proc = ManagedProcess([*argv, str(port), *extra], log_path=logs / f"{port}.log").start()
        try:
            try:
                wait_port("127.0.0.1", port, timeout=30)
            except TimeoutError as exc:
                raise SystemExit(f"{subject}: {exc}\n{proc.log()[-2000:]}") from None
            results[subject] = asyncio.run(_measure(subject, f"http://127.0.0.1:{port}/mcp"))
        finally:
            proc.stop()

    print_table(
        "echo tool calls, stateless servers (SDK client, one session per client)",
        "sdk baseline (stateless)",
        results["sdk baseline (stateless)"]
        + results["sdk baseline (stateless, JSON)"]
        + results["echo-stateless"],
    )
    print_table(
        "echo tool calls, stateful servers",
        "sdk baseline (stateful)",
        results["sdk baseline (stateful)"]
        + results["sdk baseline (stateful, JSON)"]
        + results["echo-stateful"],
    )
