"""Revocations: written to Redis, announced, and mirrored in memory by every auth process.

/verify runs before every MCP request, and asking Redis whether the token was
revoked was half its cost. So each process keeps the revocations in force in
memory. It subscribes to the announcement channel first, then loads what Redis
holds; every revocation is written and announced in one transaction, so none
falls between the two. An announcement is applied in the I/O callback that
reads it, before any request that reached the process after it is decided.

While the subscription is not live (starting, Redis restarting, no answer to
PING), /verify asks Redis as before, so a lost connection never hides a
revocation and an unreachable Redis is still a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any, cast

import hiredis
from redis.asyncio.connection import SSLConnection
from redis.exceptions import RedisError

from mcp_oauth_dynamicclient.storage import Store

log = logging.getLogger(__name__)

PING_SECONDS = 5.0  # a subscription that does not answer within this is given up
MAX_RETRY_SECONDS = 5.0
KINDS = ("jti", "family", "client")


def _command(*args: bytes) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts += [b"$%d\r\n" % len(arg), arg, b"\r\n"]
    return b"".join(parts)


class _Subscription(asyncio.Protocol):
    """One connection in subscribed mode, read with hiredis inside the I/O callback."""

    def __init__(self, hello: list[bytes], on_message: Callable[[bytes], None]) -> None:
        loop = asyncio.get_running_loop()
        self.hello = hello
        self.on_message = on_message
        self.ready: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.lost = False
        self.pongs = 0
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport.write(b"".join(self.hello))

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            self._reply(reply)

    def _reply(self, reply: Any) -> None:
        if isinstance(reply, hiredis.ReplyError):
            self._fail(ConnectionError(f"Redis refused the subscription: {reply}"))
        elif isinstance(reply, list) and reply:
            kind = reply[0]
            if kind == b"message":
                self.on_message(reply[2])
            elif kind == b"subscribe" and not self.ready.done():
                self.ready.set_result(None)
            elif kind == b"pong":
                self.pongs += 1

    def ping(self) -> None:
        if self.transport is not None:
            self.transport.write(_command(b"PING"))

    def _fail(self, exc: Exception) -> None:
        self.lost = True
        if not self.ready.done():
            self.ready.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def eof_received(self) -> bool | None:
        self.lost = True  # at once: connection_lost comes a loop iteration later
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("Redis closed the subscription"))
        if not self.closed.done():
            self.closed.set_result(None)


class Revocations:
    """Revoked token ids, families and clients; `is_revoked` is what /verify asks."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.channel = store.key("revocations")
        # "jti:<id>" -> (value, time it lapses): "1" for tokens and families, the
        # revocation's time for clients (what was issued before it is revoked).
        self._entries: dict[str, tuple[float, float]] = {}
        self._live: _Subscription | None = None

    @property
    def mirrored(self) -> bool:
        """True while answers come from memory: subscribed, loaded, and the connection up."""
        return self._live is not None and not self._live.lost

    async def record(self, kind: str, ident: str, value: str, ttl: int) -> None:
        """Write and announce in one transaction, and apply here at once."""
        assert kind in KINDS
        pipe = self.store.redis.pipeline(transaction=True)
        pipe.set(self._key(kind, ident), value, ex=ttl)
        announcement = {"key": f"{kind}:{ident}", "value": value, "ttl": ttl}
        pipe.publish(self.channel, json.dumps(announcement))
        await pipe.execute()
        self._apply(f"{kind}:{ident}", value, ttl)

    async def is_revoked(self, claims: dict[str, Any]) -> bool:
        """The token, its family, or its client revoked: from memory, or one round trip."""
        jti, family, client_id = (str(claims.get(c, "")) for c in ("jti", "fam", "client_id"))
        if self.mirrored:
            now = time.time()
            if self._active(f"jti:{jti}", now) or self._active(f"family:{family}", now):
                return True
            client = self._active(f"client:{client_id}", now)
        else:
            token, fam, at = await self.store.redis.mget(
                self._key("jti", jti), self._key("family", family), self._key("client", client_id)
            )
            if token or fam:
                return True
            client = float(at) if at is not None else None
        return client is not None and float(claims.get("iat", 0)) <= client

    async def family_revoked(self, family: str) -> bool:
        """For a refresh, which asks Redis anyway: the mark there is the authority."""
        return bool(await self.store.redis.exists(self._key("family", family)))

    def _key(self, kind: str, ident: str) -> str:
        return self.store.key("revoked", kind, ident)

    def _active(self, key: str, now: float) -> float | None:
        entry = self._entries.get(key)
        return entry[0] if entry is not None and entry[1] > now else None

    def _apply(self, key: str, value: str, ttl: float) -> None:
        lapses = time.time() + ttl
        number = float(value)
        known = self._entries.get(key)
        if known is not None:  # a client revoked twice: the later time covers more
            number, lapses = max(known[0], number), max(known[1], lapses)
        self._entries[key] = (number, lapses)

    def _announced(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
            key, value, ttl = str(message["key"]), str(message["value"]), float(message["ttl"])
            if key.split(":", 1)[0] not in KINDS:
                raise ValueError(key)
            self._apply(key, value, ttl)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed revocation announcement")

    # --- keeping the mirror -------------------------------------------------------

    async def run(self) -> None:
        """Keep the mirror current for as long as the service runs (a lifespan task)."""
        delay = 0.1
        while True:
            try:
                await self._mirror()
                delay = 0.1
            except (OSError, RedisError, ConnectionError, TimeoutError) as exc:
                log.warning("revocations asked of Redis until it answers: %s", exc)
            finally:
                self._live = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    async def _mirror(self) -> None:
        sub = await self._subscribe()
        try:
            async with asyncio.timeout(PING_SECONDS):
                await sub.ready
            await self._load()
            self._live = sub
            log.info("revocations mirrored: %d in force", len(self._entries))
            while not sub.lost:
                pongs = sub.pongs
                sub.ping()
                await asyncio.wait({sub.closed}, timeout=PING_SECONDS)
                if not sub.lost and sub.pongs == pongs:
                    raise ConnectionError("the subscription does not answer PING")
                self._purge()
        finally:
            if sub.transport is not None:
                sub.transport.close()

    async def _subscribe(self) -> _Subscription:
        pool = self.store.redis.connection_pool
        kwargs = pool.connection_kwargs
        hello = []
        if kwargs.get("password"):
            user = [kwargs["username"].encode()] if kwargs.get("username") else []
            hello.append(_command(b"AUTH", *user, kwargs["password"].encode()))
        hello.append(_command(b"SUBSCRIBE", self.channel.encode()))
        sub = _Subscription(hello, self._announced)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(PING_SECONDS):
            if "path" in kwargs:
                await loop.create_unix_connection(lambda: sub, kwargs["path"])
            else:
                await loop.create_connection(
                    lambda: sub,
                    kwargs.get("host", "localhost"),
                    kwargs.get("port", 6379),
                    ssl=_tls(kwargs) if issubclass(pool.connection_class, SSLConnection) else None,
                )
        return sub

    async def _load(self) -> None:
        """Everything Redis holds, after subscribing: what is revoked meanwhile is announced."""
        prefix = self.store.key("revoked", "")
        keys = [key async for key in self.store.redis.scan_iter(match=prefix + "*", count=1000)]
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            pipe = self.store.redis.pipeline(transaction=False)
            for key in batch:
                pipe.get(key)
                pipe.pttl(key)
            answers = await pipe.execute()
            for key, value, pttl in zip(batch, answers[::2], answers[1::2], strict=True):
                if value is not None and pttl is not None and pttl > 0:
                    with contextlib.suppress(ValueError):
                        self._apply(key[len(prefix) :], value, pttl / 1000)

    def _purge(self) -> None:
        now = time.time()
        for key in [k for k, (_, lapses) in self._entries.items() if lapses <= now]:
            del self._entries[key]


def _tls(kwargs: dict[str, Any]) -> ssl.SSLContext:
    """rediss://: verify as redis-py would, with its CA and certificate settings."""
    context = ssl.create_default_context(cafile=kwargs.get("ssl_ca_certs"))
    if kwargs.get("ssl_certfile"):
        context.load_cert_chain(kwargs["ssl_certfile"], kwargs.get("ssl_keyfile"))
    if kwargs.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = bool(kwargs.get("ssl_check_hostname", True))
    return context
