"""Name resolution, done once per connection and injectable for tests."""

from __future__ import annotations

import ipaddress
import socket
from typing import Protocol

import anyio

from mcp_oauth_gateway_core.ssrf import IPAddress


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[IPAddress]: ...


class SystemResolver:
    """getaddrinfo, as the OS would resolve it (including numeric forms like 0x7f.1)."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            return []
        seen: dict[str, IPAddress] = {}
        for _family, _type, _proto, _canon, sockaddr in infos:
            text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 scope id
            seen.setdefault(text, ipaddress.ip_address(text))
        return list(seen.values())
