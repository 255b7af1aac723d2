"""Helpers for the proxy tests: the proxy as a real process on a loopback port, raw HTTP."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx2
import psutil

from testsupport.mcp_client import initialize_body
from testsupport.net import free_port
from testsupport.processes import ManagedProcess

PEER = [sys.executable, str(Path(__file__).parent / "peers" / "stdio_peer.py")]
# Real stdio servers, pinned; run through uvx / npx, never from the workspace's environment.
TIME = "mcp-server-time==2026.10.19"
FETCH = "mcp-server-fetch==2026.10.24"
EVERYTHING = "@modelcontextprotocol/server-everything@2026.8.31"
TIME_COMMAND = ["uvx", "--from", TIME, "mcp-server-time", "--local-timezone", "UTC"]
EVERYTHING_COMMAND = ["npx", "-y", EVERYTHING, "stdio"]
WARM_UP_SECONDS = 600
INIT = initialize_body("raw-test", "2025-06-18")
ACCEPT_BOTH = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def warm_up(argv: list[str]) -> None:
    """Download and start once (stdin closed, so it exits): the proxy's children then start fast."""
    subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=WARM_UP_SECONDS, check=False
    )


def proxy_command() -> str:
    path = shutil.which("mcp-streamablehttp-proxy")
    assert path, "console script not installed: run `just setup`"
    return path


class Proxy:
    def __init__(self, process: ManagedProcess, base: str) -> None:
        self.process = process
        self.base = base
        self.url = base + "/mcp"

    @property
    def pid(self) -> int:
        return self.process.pid

    def children(self) -> list[psutil.Process]:
        """Every live descendant of the proxy (zombies included: they count as leftovers)."""
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def log(self) -> str:
        return self.process.log()


def start_proxy(
    log_dir: Path,
    *options: str,
    command: Sequence[str] = PEER,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Proxy:
    port = free_port()
    argv = [proxy_command(), "--host", "127.0.0.1", "--port", str(port), *options, "--", *command]
    process = ManagedProcess(argv, log_path=log_dir / f"proxy-{port}.log", env=env).start()
    base = f"http://127.0.0.1:{port}"
    try:
        process.wait_healthy(base + "/health", timeout=timeout)
    except BaseException:
        process.stop()
        raise
    return Proxy(process, base)


@contextlib.contextmanager
def running_proxy(log_dir: Path, *options: str, **kwargs: object) -> Iterator[Proxy]:
    proxy = start_proxy(log_dir, *options, **kwargs)  # type: ignore[arg-type]
    try:
        yield proxy
    finally:
        proxy.process.stop()


def wait_until(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll until `check()` holds; a bounded wait for an asynchronous effect, not a timing test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def initialize(client: httpx2.Client, url: str) -> str:
    """Raw initialize + initialized; returns the session id."""
    response = client.post(url, json=INIT, headers=ACCEPT_BOTH)
    assert response.status_code == 200, response.text
    session_id = response.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    headers = {**ACCEPT_BOTH, "mcp-session-id": session_id}
    assert client.post(url, json=note, headers=headers).status_code == 202
    return session_id


def rpc_body(response: httpx2.Response) -> list[dict[str, object]]:
    """The JSON-RPC messages of a POST answer, JSON or SSE alike."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return [
            json.loads(line[len("data: ") :])
            for line in response.text.splitlines()
            if line.startswith("data: ")
        ]
    body = response.json()
    return body if isinstance(body, list) else [body]
