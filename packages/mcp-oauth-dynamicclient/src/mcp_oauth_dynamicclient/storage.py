"""Redis layout: every key the service writes, its lifetime, and how secrets are kept.

All keys live under one prefix (`mcp-oauth:` by default). Secrets that a
client presents later (client secrets, registration access tokens,
authorization codes, refresh tokens) are stored only as SHA-256 digests: they
are 256-bit random values, so a plain digest is as strong as a slow hash and
costs nothing on the hot path.

| key                               | value                     | expires            |
|-----------------------------------|---------------------------|--------------------|
| client:<client_id>                | registered client (JSON)  | never              |
| code:<digest>                     | authorization grant       | code lifetime      |
| code-used:<digest>                | family the code started   | refresh lifetime   |
| refresh:<digest>                  | refresh grant (JSON)      | refresh lifetime   |
| family:<family_id>                | who a token family is for | refresh lifetime   |
| families:client:<id> / user:<sub> | set of family ids         | refresh lifetime   |
| revoked:jti:<jti>                 | "1"                       | until the JWT ends |
| revoked:family:<id>               | "1"                       | refresh+access     |
| revoked:client:<id>               | time of the revocation    | refresh+access     |
| rotating:<digest>                 | refresh rotation lock     | 5 seconds          |
| pending:<id>, upstream:<state>    | authorization in flight   | 10 minutes         |
| consent:<user>:<client>           | "1"                       | consent lifetime   |
| browser:<digest>                  | signed-in user (JSON)     | browser session    |
| cimd:<url digest>                 | fetched metadata document | HTTP cache limits  |
| keys:signing                      | generated RS256 key (PEM) | never              |
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis.asyncio as redis

JSONDict = dict[str, Any]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Store:
    """Thin, typed access to Redis under the service's key prefix."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.redis = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str, password: str | None = None) -> Store:
        client = redis.Redis.from_url(
            url,
            password=password or None,
            decode_responses=True,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            health_check_interval=30,
        )
        return cls(client, prefix)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def get_json(self, *parts: str) -> JSONDict | None:
        raw = await self.redis.get(self.key(*parts))
        return json.loads(raw) if raw else None

    async def set_json(self, value: JSONDict, *parts: str, ttl: int | None = None) -> None:
        await self.redis.set(self.key(*parts), json.dumps(value), ex=ttl if ttl else None)

    async def pop_json(self, *parts: str) -> JSONDict | None:
        """Read and delete in one step: what single-use values need."""
        raw = await self.redis.getdel(self.key(*parts))
        return json.loads(raw) if raw else None

    async def delete(self, *parts: str) -> None:
        await self.redis.delete(self.key(*parts))

    async def scan(self, *parts: str) -> list[str]:
        """Key suffixes matching a pattern (operator commands only, never on a request path)."""
        pattern = self.key(*parts)
        skip = len(self.prefix)
        return [key[skip:] async for key in self.redis.scan_iter(match=pattern, count=500)]

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()
