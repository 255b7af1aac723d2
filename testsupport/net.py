"""Loopback ports and readiness polling."""

from __future__ import annotations

import socket
import time

import httpx2


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it, so parallel runs do not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, expect: int = 200) -> None:
    """Poll `url` until it answers `expect`; raise TimeoutError with the last answer otherwise."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx2.get(url, timeout=2.0)
            if response.status_code == expect:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx2.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout}s ({last})")


def wait_port(host: str, port: int, timeout: float = 30.0) -> None:
    """Wait until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} not accepting connections after {timeout}s")
