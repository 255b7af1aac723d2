"""Per-address rate limits on the endpoints anyone can call: /register, /authorize, /token.

A fixed window per (endpoint, client address) counted in Redis, so every
replica shares the count. The client address is the peer's, or, when the
peer is a trusted proxy (Traefik), the nearest untrusted address in
X-Forwarded-For: a client cannot pick its own address by sending the header.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from mcp_oauth_dynamicclient.errors import no_store_json
from mcp_oauth_dynamicclient.storage import Store

Endpoint = Callable[[Request], Awaitable[Response]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Limit:
    requests: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit | None:
        """`"30/60"` = 30 requests a minute; `""` or `"0"` = no limit."""
        count, _, window = text.strip().partition("/")
        if not count or int(count) <= 0:
            return None
        return cls(int(count), int(window or 60))


def parse_networks(text: str) -> tuple[Network, ...]:
    items = [item for item in text.replace(",", " ").split() if item]
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def client_address(request: Request, trusted: Sequence[Network]) -> str:
    peer = request.client.host if request.client else ""

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in trusted)

    if not is_trusted(peer):
        return peer
    forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",")]
    for address in reversed([a for a in forwarded if a]):
        if not is_trusted(address):
            return address
    return peer


class RateLimiter:
    def __init__(self, store: Store, trusted: Sequence[Network]) -> None:
        self.store = store
        self.trusted = tuple(trusted)

    def wrap(self, name: str, limit: Limit | None, endpoint: Endpoint) -> Endpoint:
        if limit is None:
            return endpoint

        async def limited(request: Request) -> Response:
            now = int(time.time())
            window = now // limit.seconds
            key = self.store.key("rl", name, client_address(request, self.trusted), str(window))
            pipe = self.store.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, limit.seconds + 1)
            count, _ = await pipe.execute()
            if int(count) > limit.requests:
                retry = (window + 1) * limit.seconds - now
                return no_store_json(
                    {
                        "error": "slow_down",
                        "error_description": f"too many requests to /{name} from this address; "
                        f"at most {limit.requests} per {limit.seconds} s",
                    },
                    429,
                    {"Retry-After": str(max(1, retry))},
                )
            return await endpoint(request)

        return limited
