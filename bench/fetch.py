"""Our fetch server vs the official mcp-server-fetch behind a StreamableHTTP proxy.

Fetches of one loopback page (served by `python -m http.server` in its own
process) per second, with p50/p99, at 1 and 16 concurrent MCP sessions. The
official server speaks stdio, so it is measured behind a proxy: ours
(mcp-streamablehttp-proxy) when it is installed, else the `mcp-proxy` peer
from PyPI; the table names which. robots.txt is off on both sides.
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

OFFICIAL = "mcp-server-fetch==2026.10.24"
CONCURRENCY = (1, 16)
# The official server takes ~0.8 s a fetch alone and ~8 s with 16 at once on two cores:
# the window at 16 is long enough for every session to finish several.
DURATION = {1: 10.0, 16: 30.0}
PAGE = "<html><body><h1>Bench page</h1>" + "<p>Some text to convert.</p>" * 200 + "</body></html>"


def _fetch_client(url: str, page: str) -> ClientFactory:
    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[Call]:
        async with mcp_client(url, read_timeout_seconds=60) as client:

            async def call() -> object:
                result = await client.call_tool("fetch", {"url": page})
                if result.is_error:
                    raise RuntimeError(str(result.content)[:200])
                return result

            yield call

    return factory


def _official_behind_proxy(port: int) -> tuple[str, list[str]]:
    official = ["uvx", "--from", OFFICIAL, "mcp-server-fetch", "--allow-private-ips"]
    official.append("--ignore-robots-txt")
    ours = shutil.which("mcp-streamablehttp-proxy")
    if ours:
        argv = [ours, "--host", "127.0.0.1", "--port", str(port), "--", *official]
        return "official via our proxy", argv
    peer = ["uvx", "mcp-proxy", "--host", "127.0.0.1", "--port", str(port), "--pass-environment"]
    return "official via mcp-proxy", [*peer, "--", *official]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-fetch-"))
    (work / "page.html").write_text(PAGE)
    ours_exe = shutil.which("mcp-fetch-streamablehttp-server")
    if ours_exe is None:
        raise SystemExit("mcp-fetch-streamablehttp-server is not installed: run `just setup`")
    web_port, ours_port, peer_port = free_port(), free_port(), free_port()
    page = f"http://127.0.0.1:{web_port}/page.html"
    peer_name, peer_argv = _official_behind_proxy(peer_port)
    subjects = {
        peer_name: (peer_argv, peer_port),
        "our fetch server": (
            [
                *(ours_exe, "--host", "127.0.0.1", "--port", str(ours_port)),
                *("--allowed-networks", "127.0.0.0/8", "--ignore-robots"),
            ],
            ours_port,
        ),
    }
    web = ManagedProcess(
        [sys.executable, "-m", "http.server", str(web_port), "--bind", "127.0.0.1"],
        log_path=work / "web.log",
        cwd=work,
    ).start()
    results: list[Result] = []
    try:
        wait_port("127.0.0.1", web_port)
        for subject, (argv, port) in subjects.items():
            proc = ManagedProcess(argv, log_path=work / f"{port}.log").start()
            try:
                try:
                    wait_port("127.0.0.1", port, timeout=120)
                except TimeoutError:
                    raise SystemExit(f"{subject} did not start:\n{proc.log()[-3000:]}") from None
                for concurrency in CONCURRENCY:
                    results.append(
                        asyncio.run(
                            run_load(
                                subject,
                                _fetch_client(f"http://127.0.0.1:{port}/mcp", page),
                                concurrency=concurrency,
                                duration=DURATION[concurrency],
                            )
                        )
                    )
            finally:
                proc.stop()
    finally:
        web.stop()
    print_table("fetch of a loopback page (MCP tool calls)", peer_name, results)
