"""Witnesses for tests that must prove a connection was NOT made.

`CountingListener` counts what reaches a loopback port; `RecordingBackend` is
an httpcore2 network backend that records every connect attempt and lets only
loopback through, so even a broken defence cannot send traffic off this
machine; `ScriptedResolver` answers DNS from a table, differently on each
lookup if asked (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from httpcore2 import AsyncNetworkBackend, AsyncNetworkStream
from httpcore2._backends.auto import AutoBackend
from httpcore2._types import SOCKET_OPTION

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[IPAddress]: ...


class CountingListener:
    """A loopback socket that counts every connection it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@dataclass
class RecordingBackend(AsyncNetworkBackend):
    """The connect hook: records every attempt; only loopback attempts really connect.

    So even a broken defence could not send a packet anywhere but this machine.
    """

    attempts: list[tuple[str, int]] = field(default_factory=list)
    inner: AsyncNetworkBackend = field(default_factory=AutoBackend)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        self.attempts.append((host, port))
        if host not in ("127.0.0.1", "::1"):
            raise OSError(f"test connect hook: refusing non-loopback {host}")
        return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        raise OSError("no unix sockets in tests")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class ScriptedResolver:
    """Answers from a table; each name may answer differently on each lookup (rebinding)."""

    def __init__(self, answers: dict[str, list[Sequence[str]]], fallback: _Resolver) -> None:
        self.answers = answers
        self.fallback = fallback
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        if host in self.answers:
            script = self.answers[host]
            current = script.pop(0) if len(script) > 1 else script[0]
            return [ipaddress.ip_address(a) for a in current]
        return await self.fallback.resolve(host, port)
