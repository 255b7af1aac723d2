"""stdio → StreamableHTTP proxies side by side: ours, `mcp-proxy` (PyPI), `supergateway` (npm).

All three wrap the same stdio server in the same run: a minimal JSON-RPC MCP
server (this module with `--stdio-server`: initialize, tools/list, an `echo`
tool, ping) that costs next to nothing per call, so what is measured is the
proxy. Figures per proxy:

- tool calls/s and p50/p99 at 1, 10 and 50 concurrent MCP sessions. The load
  comes from a minimal HTTP/1.1 client (one keep-alive connection per session,
  initialize handshake, then `tools/call` in a loop): on two cores the SDK
  client saturates a core by itself at ~1,200 calls/s and would hide the
  proxies' differences;
- session start-up: the SDK client's whole handshake (child spawn included) up
  to the first tool result;
- memory per session beyond the child: RSS of the proxy's own processes with
  20 sessions open minus with none, divided by 20 (the stdio servers excluded).

`mcp-proxy` shares one child among all sessions; ours and supergateway
(`--stateful`) start one per session. Ratios are against the best peer.
"""

from __future__ import annotations

import json
import sys

MARKER = "--stdio-server"


def serve_stdio() -> None:
    """The wrapped server: answers line by line, nothing else."""
    tool = {
        "name": "echo",
        "description": "Echo the message back",
        "inputSchema": {
            "type": "object",
            "properties": {"message": {"type": "string"}},
            "required": ["message"],
        },
    }
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if "id" not in request or "method" not in request:
            continue
        method = request["method"]
        result: object
        if method == "initialize":
            result = {
                "protocolVersion": request["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "bench-stdio-echo", "version": "1.0"},
            }
        elif method == "tools/list":
            result = {"tools": [tool]}
        elif method == "tools/call":
            message = request["params"].get("arguments", {}).get("message", "")
            result = {"content": [{"type": "text", "text": message}], "isError": False}
        else:
            result = {}
        out.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}) + "\n")
        out.flush()


if __name__ == "__main__" and MARKER in sys.argv:  # the wrapped server starts in ~15 ms
    serve_stdio()
    raise SystemExit(0)

import asyncio  # noqa: E402 - the wrapped server above must not pay for these
import contextlib  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator, Mapping  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from bench.harness import Result
    from testsupport.processes import ManagedProcess

MCP_PROXY = "mcp-proxy@0.13.0"
SUPERGATEWAY = "supergateway@4.0.0"
CONCURRENCY = (1, 10, 50)
DURATION = 5.0
STARTUPS = 10
MEMORY_SESSIONS = 20
ROOT = Path(__file__).resolve().parent.parent


def _subjects(stdio: list[str], ports: dict[str, int]) -> dict[str, list[str]]:
    ours = ROOT / ".venv" / "bin" / "mcp-streamablehttp-proxy"
    if not ours.exists():
        raise SystemExit("mcp-streamablehttp-proxy is not installed: run `just setup`")
    return {
        "mcp-streamablehttp-proxy (ours)": [
            *(str(ours), "--host", "127.0.0.1", "--port", str(ports["ours"])),
            *("--log-level", "WARNING", "--max-sessions", "200", "--"),
            *stdio,
        ],
        f"mcp-proxy {MCP_PROXY.split('@')[1]}": [
            *("uvx", MCP_PROXY, "--host", "127.0.0.1", "--port", str(ports["mcp-proxy"])),
            *("--pass-environment", "--log-level", "WARNING", "--"),
            *stdio,
        ],
        f"supergateway {SUPERGATEWAY.split('@')[1]} (--stateful)": [
            *("npx", "-y", SUPERGATEWAY, "--stdio", " ".join(stdio)),
            *("--outputTransport", "streamableHttp", "--stateful"),
            *("--port", str(ports["supergateway"]), "--logLevel", "none"),
        ],
    }


class RawSession:
    """One MCP session over one HTTP/1.1 keep-alive connection, with next to no client cost."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.session_id = ""
        self.next_id = 0
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _exchange(self, method: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"{method} {self.path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            "accept: application/json, text/event-stream\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nmcp-protocol-version: 2025-06-18\r\n"
        )
        if self.session_id:
            head += f"mcp-session-id: {self.session_id}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        raw_head = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        if "content-length" in headers:
            payload = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            payload = b"".join(parts)
        else:
            payload = await self.reader.read()
            self.writer.close()
        if headers.get("connection", "").lower() == "close":
            self.writer.close()
        return status, headers, payload

    async def rpc(self, method: str, params: Mapping[str, object]) -> dict[str, object]:
        self.next_id += 1
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        status, headers, payload = await self._exchange("POST", json.dumps(request).encode())
        if status != 200:
            raise RuntimeError(f"{method}: HTTP {status}: {payload[:200]!r}")
        if "mcp-session-id" in headers:
            self.session_id = headers["mcp-session-id"]
        if headers.get("content-type", "").startswith("text/event-stream"):
            for line in payload.split(b"\n"):
                if line.startswith(b"data:"):
                    message = json.loads(line[5:])
                    if message.get("id") == self.next_id:
                        return dict(message)
            raise RuntimeError(f"{method}: no answer in the stream")
        return dict(json.loads(payload))

    async def open(self) -> None:
        params = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench-raw", "version": "1"},
        }
        await self.rpc("initialize", params)
        note = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
        status, _, _ = await self._exchange("POST", note)
        if status not in (200, 202):
            raise RuntimeError(f"initialized: HTTP {status}")

    async def close(self) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            await self._exchange("DELETE")
        if self.writer is not None:
            self.writer.close()


@dataclass
class Figures:
    startup: float  # seconds, median
    memory: float  # bytes per session beyond the child
    loads: list[Result]


def _run(argv: list[str], log: Path) -> ManagedProcess:
    from testsupport.processes import ManagedProcess

    return ManagedProcess(argv, log_path=log, cwd=ROOT).start()


def _proxy_rss(pid: int) -> int:
    """RSS of the proxy's process tree without the wrapped stdio servers."""
    import psutil

    total = 0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if not _is_wrapped_server(proc.cmdline()):
                total += proc.memory_info().rss
    return total


def _is_wrapped_server(cmdline: list[str]) -> bool:
    """The stdio server itself, or a shell a proxy put around it."""
    if cmdline[-1:] != [MARKER]:
        return cmdline[1:2] == ["-c"] and MARKER in " ".join(cmdline[2:])
    return "bench.proxy" in cmdline[1:5] and "--" not in cmdline


async def _measure(subject: str, port: int, pid: int) -> Figures:
    from bench.harness import Call, ClientFactory, run_load
    from testsupport.mcp_client import mcp_client

    url = f"http://127.0.0.1:{port}/mcp"

    def factory() -> ClientFactory:
        @contextlib.asynccontextmanager
        async def one() -> AsyncIterator[Call]:
            session = RawSession("127.0.0.1", port, "/mcp")
            await session.open()
            arguments = {"name": "echo", "arguments": {"message": "ping"}}

            async def call() -> object:
                answer = await session.rpc("tools/call", arguments)
                if "result" not in answer:
                    raise RuntimeError(str(answer)[:200])
                return answer

            try:
                yield call
            finally:
                await session.close()

        return one

    startups = []
    for _ in range(STARTUPS):
        started = time.perf_counter()
        async with mcp_client(url) as client:
            await client.call_tool("echo", {"message": "first"})
            startups.append(time.perf_counter() - started)
    await asyncio.sleep(1.0)

    before = _proxy_rss(pid)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(mcp_client(url)) for _ in range(MEMORY_SESSIONS)]
        for client in clients:
            await client.call_tool("echo", {"message": "hold"})
        await asyncio.sleep(0.5)
        during = _proxy_rss(pid)
    per_session = max(0, during - before) / MEMORY_SESSIONS

    loads = [
        await run_load(subject, factory(), concurrency=c, duration=DURATION) for c in CONCURRENCY
    ]
    return Figures(statistics.median(startups), per_session, loads)


def _wait_ready(url: str, proc: ManagedProcess, timeout: float = 180.0) -> None:
    from testsupport.mcp_client import mcp_client

    async def probe() -> None:
        async with mcp_client(url) as client:
            await client.call_tool("echo", {"message": "ready?"})

    deadline = time.monotonic() + timeout
    while True:
        try:
            asyncio.run(probe())
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                log = proc.log()[-3000:]
                raise SystemExit(f"{url} never answered ({exc!r}):\n{log}") from None
            time.sleep(0.5)


def main() -> None:
    from bench.harness import print_table
    from testsupport.net import free_port

    work = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    # -S: no site packages to scan, the wrapped server starts in ~15 ms (same for all three).
    stdio = [sys.executable, "-S", "-m", "bench.proxy", MARKER]
    ports = {"ours": free_port(), "mcp-proxy": free_port(), "supergateway": free_port()}
    subjects = _subjects(stdio, ports)
    figures: dict[str, Figures] = {}
    for (subject, argv), port in zip(subjects.items(), ports.values(), strict=True):
        proc = _run(argv, work / f"{port}.log")
        try:
            url = f"http://127.0.0.1:{port}/mcp"
            _wait_ready(url, proc)
            figures[subject] = asyncio.run(_measure(subject, port, proc.pid))
        finally:
            proc.stop()

    ours = next(iter(figures))
    peers = [s for s in figures if s != ours]
    results = [r for f in figures.values() for r in f.loads]
    by = {(r.subject, r.concurrency): r for r in results}
    best_at_10 = max(peers, key=lambda s: by[(s, 10)].per_second)
    print_table(
        "stdio server behind a StreamableHTTP proxy (MCP echo tool calls)", best_at_10, results
    )
    print(f"\n{'subject':<40}{'start-up ms':>13}{'MB/session':>12}")
    for subject, f in figures.items():
        print(f"{subject:<40}{f.startup * 1000:>13.1f}{f.memory / 1e6:>12.2f}")
    ratio = by[(ours, 10)].per_second / by[(best_at_10, 10)].per_second
    print(
        f"\nours / best peer ({best_at_10}) at 10 sessions: {ratio:.2f}x calls/s "
        f"(target >= 1.5x); ours: {figures[ours].memory / 1e6:.2f} MB per session "
        "beyond the child (target <= 5 MB)"
    )


if __name__ == "__main__":
    main()
