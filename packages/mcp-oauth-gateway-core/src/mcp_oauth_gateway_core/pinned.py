"""An httpx2 transport that connects only to an address vetted in advance.

The host name stays in the URL, so the Host header, TLS SNI and certificate
checks all use it; only the TCP connection goes to the pinned address. A
second DNS answer (rebinding) can therefore never redirect the connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping

import httpcore2
import httpx2
from httpcore2 import AsyncNetworkBackend, AsyncNetworkStream
from httpcore2._backends.auto import AutoBackend
from httpcore2._types import SOCKET_OPTION

from mcp_oauth_gateway_core.ssrf import IPAddress


class ConnectionRefusedByPolicy(OSError):
    """A connection to a host that was not vetted: never attempted."""


class PinnedBackend(AsyncNetworkBackend):
    def __init__(self, pins: Mapping[str, IPAddress], inner: AsyncNetworkBackend | None = None):
        self.pins = {host.lower(): address for host, address in pins.items()}
        self.inner = inner or AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        address = self.pins.get(host.lower().strip("[]"))
        if address is None:
            raise ConnectionRefusedByPolicy(f"no vetted address for {host}")
        return await self.inner.connect_tcp(
            str(address), port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        raise ConnectionRefusedByPolicy("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's own transport, with the connection pool's network backend pinned."""

    def __init__(
        self,
        pins: Mapping[str, IPAddress],
        ssl_context: ssl.SSLContext,
        backend: AsyncNetworkBackend | None = None,
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=1,
            network_backend=PinnedBackend(pins, backend),
        )
