"""Children the proxy initialized itself, shared by 2026-07-28 requests (which have no session).

A per-request client brings no session that could own a child, so its request
borrows one from a bounded pool. The proxy does the handshake with each pool
child once (`initialize`, declaring the client capabilities it can relay:
`MCP_PROXY_POOL_CLIENT_CAPABILITIES`), then many clients' requests run on one
child at the same time: each is written under an id (and progress token) of
the proxy's own and mapped back on the way out, so two clients that both
number their request 1 never see each other's answer. Pool children never
serve handshake-era sessions, and sessions' children never join the pool.

What a pool child sends besides answers:
- progress for a request goes to that request's client;
- a request of its own (sampling, elicitation, roots/list) goes to the client
  of the one request in flight on that child, as an `input_required` round
  (`rounds.py`), when that client declared the capability and the request is
  one that may ask (tools/call, prompts/get, resources/read). Otherwise the
  child is answered at once: roots/list with an empty list, anything else
  with an error saying why. `ping` is answered, since the proxy itself is the
  child's client;
- other notifications (log messages, list changes) have no single recipient
  and are dropped; `notifications/tools/list_changed` refreshes the tool
  schemas kept for `Mcp-Param-*` checks.

The pool holds at most `pool_size` children (those being started or retired
included), grows when every child is busy, keeps `pool_warm` ready, ends
extra ones after `pool_idle_timeout` unused seconds, and retires a child after
`pool_max_requests` requests or `pool_max_age` seconds: it takes no new
requests, ends when its last one is answered, and is replaced as needed. A
child that dies fails its requests in flight with an error naming the exit
and is replaced the same way; a command that keeps failing is retried with
backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from mcp_types.methods import INPUT_REQUIRED_METHODS

from mcp_streamablehttp_proxy import __version__
from mcp_streamablehttp_proxy.child import ChildProcess
from mcp_streamablehttp_proxy.config import Settings
from mcp_streamablehttp_proxy.messages import (
    CONNECTION_CLOSED,
    METHOD_NOT_FOUND,
    cancelled_notification,
)
from mcp_streamablehttp_proxy.modern import ModernRequest
from mcp_streamablehttp_proxy.rounds import ASKABLE, declared_capabilities, missing_capability

logger = logging.getLogger("mcp_streamablehttp_proxy.pool")

INIT_ID = "mcp-streamablehttp-proxy/initialize"
MAINTENANCE_INTERVAL = 0.5
RETRY_BACKOFF_MAX = 30.0
TOOLS_LIST_PAGE_CAP = 100


class PoolUnavailableError(Exception):
    """No pool child can take the request (the command fails to start, or the proxy stops)."""


class ChildGoneError(Exception):
    """The pool child ended before the request could be written to it."""


@dataclass(eq=False)
class Exchange:
    """One request on a pool child: the client's id and token, and where the child's replies go.

    The queue carries the child's messages for this request in the child's
    terms (the proxy's id and token): its answer, its progress, and requests
    it sends the client meanwhile. `for_client` maps them at delivery, so a
    retry (a new id, a new progress token) gets what the child sends after it
    in its own terms. None means the client has gone.
    """

    request_id: Any
    progress_token: Any = None
    method: str = ""
    capabilities: dict[str, Any] = field(default_factory=dict)
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    proxy_id: int | None = None
    child_has_token: bool = False  # the child was given a progress token for it

    def for_client(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """A response or progress in the client's current terms; None: progress it cannot take."""
        if "method" not in message:
            return {**message, "id": self.request_id}
        params = message.get("params")
        if self.progress_token is None or not isinstance(params, dict):
            return None
        return {**message, "params": {**params, "progressToken": self.progress_token}}


class Lease:
    """A pool child lent to one client request, through all its rounds: given back once.

    `parked` while an `input_required` round waits for the client's retry:
    the handler that answered it leaves the lease to the round.
    """

    def __init__(self, child: PooledChild, request: ModernRequest) -> None:
        self.child = child
        self.request = request
        self.exchange = Exchange(
            request.id, request.progress_token, request.method, dict(request.capabilities)
        )
        self.ended = False
        self.parked = False
        self.asked = 0  # input keys handed out so far, for fresh keys in every round

    def resume(self, request: ModernRequest) -> None:
        """The client's retry takes over: its id, its progress token, its capabilities."""
        self.parked = False
        self.request = request
        self.exchange.request_id = request.id
        self.exchange.progress_token = request.progress_token
        self.exchange.capabilities = dict(request.capabilities)

    def end(self, reason: str | None = None) -> None:
        """Give the child back; with a reason, tell it to stop (a no-op once answered)."""
        if self.ended:
            return
        self.ended = True
        self.parked = False
        if reason is not None:
            self.child.refuse_queued(self.exchange, reason)
            self.child.cancel(self.exchange, reason)
        self.child.release()


class PooledChild:
    def __init__(self, child: ChildProcess, pool: ChildPool, tag: str) -> None:
        self.child = child
        self.pool = pool
        self.tag = tag
        self.started = time.monotonic()
        self.last_used = self.started
        self.served = 0  # requests lent to it, for retirement
        self.lent = 0  # requests lent and not yet released
        self.pending: dict[int, Exchange] = {}
        self.retiring = False
        self.retire_reason = ""
        self.ended = False  # exited, or being ended: nothing more is written to it
        self.init_result: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self._init_waiter: asyncio.Future[dict[str, Any]] | None = None
        self._tools: dict[str, Any] | None = None  # tool name -> inputSchema
        self._tools_loading: asyncio.Task[dict[str, Any] | None] | None = None
        self._tools_generation = 0

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def available(self) -> bool:
        return not self.retiring and not self.ended

    @property
    def server_info(self) -> dict[str, Any] | None:
        info = self.init_result.get("serverInfo")
        return info if isinstance(info, dict) else None

    # -- start-up ----------------------------------------------------------

    async def initialize(self, version: str) -> dict[str, Any]:
        """The handshake a session's client would do, done once by the proxy for all requests.

        The client capabilities declared are those the proxy can relay to
        per-request clients through input_required rounds.
        """
        timeout = self.pool.settings.request_timeout
        self._init_waiter = asyncio.get_running_loop().create_future()
        request = {
            "jsonrpc": "2.0",
            "id": INIT_ID,
            "method": "initialize",
            "params": {
                "protocolVersion": version,
                "capabilities": declared_capabilities(self.pool.settings.pool_client_capabilities),
                "clientInfo": {"name": "mcp-streamablehttp-proxy", "version": __version__},
            },
        }
        try:
            async with asyncio.timeout(timeout):
                await self._write(request)
                answer = await self._init_waiter
        except TimeoutError:
            raise PoolUnavailableError(
                f"the MCP server did not answer initialize within {timeout:g}s"
            ) from None
        except ChildGoneError as exc:
            raise PoolUnavailableError(str(exc)) from None
        error = answer.get("error")
        if error is not None:
            message = error.get("message") if isinstance(error, dict) else error
            raise PoolUnavailableError(f"the MCP server refused initialize: {message}")
        result = answer.get("result")
        if not isinstance(result, dict):
            raise PoolUnavailableError("the MCP server answered initialize without a result")
        try:
            await self._write({"jsonrpc": "2.0", "method": "notifications/initialized"})
        except ChildGoneError as exc:
            raise PoolUnavailableError(str(exc)) from None
        self.init_result = result
        return result

    # -- requests ----------------------------------------------------------

    async def send(self, message: dict[str, Any], exchange: Exchange) -> None:
        """Write one request (no id of its own) under an id, and a token, of the proxy's own."""
        if self.ended:
            raise ChildGoneError(self.child.exit_reason or "the MCP server is being retired")
        proxy_id = next(self._ids)
        exchange.proxy_id = proxy_id
        exchange.child_has_token = exchange.progress_token is not None
        self.pending[proxy_id] = exchange
        outgoing = {**message, "id": proxy_id}
        if exchange.child_has_token:
            params = dict(outgoing.get("params") or {})
            params["_meta"] = {**(params.get("_meta") or {}), "progressToken": proxy_id}
            outgoing["params"] = params
        try:
            await self._write(outgoing)
        except ChildGoneError:
            self.pending.pop(proxy_id, None)
            raise

    def cancel(self, exchange: Exchange, reason: str) -> None:
        """The client gave up (or timed out): the child is told to stop, if it still works on it.

        Never waits: a child that stopped reading must not block the caller.
        """
        proxy_id = exchange.proxy_id
        if proxy_id is None or self.pending.pop(proxy_id, None) is None:
            return
        logger.info("%s request %d cancelled: %s", self.tag, proxy_id, reason)
        with contextlib.suppress(ConnectionError, OSError):
            self.child.write(cancelled_notification(proxy_id, reason) + b"\n")

    def release(self) -> None:
        """The request lent to this child is over, answered or not."""
        self.pool.release(self)

    def reply(self, request_id: Any, result: dict[str, Any]) -> None:
        """Answer a request the child sent its client (never waits)."""
        self._write_now({"jsonrpc": "2.0", "id": request_id, "result": result})

    def reply_error(self, request_id: Any, code: int, message: str) -> None:
        self._write_now(
            {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
        )

    def refuse_queued(self, exchange: Exchange, reason: str) -> None:
        """Requests the child sent for a request that is over get an error, not silence."""
        while not exchange.queue.empty():
            message = exchange.queue.get_nowait()
            if message is not None and "method" in message and "id" in message:
                self.reply_error(message["id"], METHOD_NOT_FOUND, f"{message['method']}: {reason}")

    async def input_schema(self, name: str) -> Any | None:
        """The inputSchema this child lists for tool `name`; None when unknown or unlistable.

        The list is asked once per child and kept until the child says it
        changed (notifications/tools/list_changed).
        """
        if self._tools is None:
            if self._tools_loading is None or self._tools_loading.done():
                self._tools_loading = asyncio.create_task(self._load_tools())
            tools = await asyncio.shield(self._tools_loading)
            if tools is None:
                return None
            return tools.get(name)
        return self._tools.get(name)

    async def _load_tools(self) -> dict[str, Any] | None:
        timeout = self.pool.settings.request_timeout
        generation = self._tools_generation
        tools: dict[str, Any] = {}
        params: dict[str, Any] = {}
        seen: set[str] = set()
        try:
            async with asyncio.timeout(timeout):
                for _ in range(TOOLS_LIST_PAGE_CAP):
                    exchange = Exchange(request_id=None)
                    await self.send(
                        {"jsonrpc": "2.0", "method": "tools/list", "params": params}, exchange
                    )
                    answer = await exchange.queue.get()
                    result = answer.get("result") if answer else None
                    if not isinstance(result, dict):
                        raise ValueError(f"tools/list answered {answer!r:.200}")
                    for tool in result.get("tools") or []:
                        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                            tools[tool["name"]] = tool.get("inputSchema")
                    cursor = result.get("nextCursor")
                    if not isinstance(cursor, str) or cursor in seen:
                        break
                    seen.add(cursor)
                    params = {"cursor": cursor}
        except (TimeoutError, ChildGoneError, ValueError) as exc:
            logger.warning(
                "%s: Mcp-Param-* headers not checked, tools/list failed: %s", self.tag, exc
            )
            return None
        if generation == self._tools_generation:
            self._tools = tools
        return tools

    def _write_now(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            self.child.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    async def _write(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        try:
            self.child.write(line)
            await self.child.drain()
        except (ConnectionError, OSError) as exc:
            raise ChildGoneError(self.child.exit_reason or str(exc)) from None

    # -- from the child ----------------------------------------------------

    def on_child_line(self, line: bytes) -> None:
        try:
            parsed = json.loads(line)
        except ValueError:
            logger.warning("%s wrote a non-JSON line; dropped: %r", self.tag, line[:200])
            return
        for message in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(message, dict):
                self._route(message)
            else:
                logger.warning("%s wrote JSON that is not JSON-RPC; dropped", self.tag)

    def _route(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if isinstance(method, str):
            if "id" in message:
                self._server_request(message, method)
            elif method == "notifications/progress":
                self._progress(message)
            else:
                if method == "notifications/tools/list_changed":
                    self._tools = None
                    self._tools_generation += 1
                logger.debug("%s %s has no single client to go to; dropped", self.tag, method)
            return
        request_id = message.get("id")
        if request_id == INIT_ID:
            if self._init_waiter is not None and not self._init_waiter.done():
                self._init_waiter.set_result(message)
            return
        exchange = self._pending_for(request_id)
        if exchange is None or exchange.proxy_id is None:
            logger.debug("%s answer to %r nobody waits for", self.tag, request_id)
            return
        del self.pending[exchange.proxy_id]
        exchange.queue.put_nowait(message)

    def _pending_for(self, key: object) -> Exchange | None:
        if isinstance(key, int) and not isinstance(key, bool):
            return self.pending.get(key)
        return None

    def _progress(self, message: dict[str, Any]) -> None:
        params = message.get("params")
        if not isinstance(params, dict):
            return
        exchange = self._pending_for(params.get("progressToken"))
        if exchange is None or not exchange.child_has_token:
            return
        exchange.queue.put_nowait(message)

    def _server_request(self, message: dict[str, Any], method: str) -> None:
        """The proxy is this child's client: it answers ping, and passes on what it can."""
        request_id = message["id"]
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "ping":
            self.reply(request_id, {})
            return
        kind = ASKABLE.get(method)
        if kind is None or kind not in self.pool.settings.pool_client_capabilities:
            logger.info("%s asked for %s; refused: not relayed", self.tag, method)
            self.reply_error(
                request_id,
                METHOD_NOT_FOUND,
                f"{method} is not available: this server runs in mcp-streamablehttp-proxy's "
                "pool for MCP 2026-07-28 clients, and the proxy does not relay it "
                "(MCP_PROXY_POOL_CLIENT_CAPABILITIES); use a handshake-era session for that",
            )
            return
        exchange, reason = self._attribute(method, params)
        if exchange is not None:
            logger.debug(
                "%s request %s asks its client for %s", self.tag, exchange.proxy_id, method
            )
            exchange.queue.put_nowait(message)
        elif method == "roots/list":
            logger.info("%s asked for roots/list; answered with no roots: %s", self.tag, reason)
            self.reply(request_id, {"roots": []})
        else:
            logger.info("%s asked for %s; refused: %s", self.tag, method, reason)
            self.reply_error(
                request_id,
                METHOD_NOT_FOUND,
                f"{method} cannot reach a client: {reason} (this server runs in "
                "mcp-streamablehttp-proxy's pool for MCP 2026-07-28 clients)",
            )

    def _attribute(self, method: str, params: dict[str, Any]) -> tuple[Exchange | None, str]:
        """The one client request a child's request can be for, or why there is none.

        The child does not say which request it asks for; only a child with a
        single request in flight (waiting rounds included) leaves no doubt.
        """
        in_flight = list(self.pending.values())
        if len(in_flight) > 1:
            return None, (
                f"{len(in_flight)} requests are in flight on this pool child, so the proxy "
                "cannot tell which client it is for"
            )
        if not in_flight or in_flight[0].request_id is None:
            return None, "no client request is in flight on this pool child"
        exchange = in_flight[0]
        if exchange.method not in INPUT_REQUIRED_METHODS:
            return None, (
                f"it came during {exchange.method}, and MCP 2026-07-28 lets a server ask its "
                "client only during tools/call, prompts/get and resources/read"
            )
        missing = missing_capability(exchange.capabilities, method, params)
        if missing is not None:
            return None, f"the client of the request in flight did not declare {missing}"
        return exchange, ""

    async def on_child_exit(self, reason: str) -> None:
        self.fail_everything(reason)
        self.pool.child_exited(self, reason)

    def fail_everything(self, reason: str) -> None:
        """Answer every request in flight with an error naming the reason."""
        self.ended = True
        if self._init_waiter is not None and not self._init_waiter.done():
            self._init_waiter.set_exception(ChildGoneError(reason))
        message = f"{reason} while handling this request; the proxy replaces it"
        for proxy_id, exchange in self.pending.items():
            exchange.queue.put_nowait(
                {
                    "jsonrpc": "2.0",
                    "id": proxy_id,
                    "error": {"code": CONNECTION_CLOSED, "message": message},
                }
            )
        self.pending.clear()


class ChildPool:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.enabled = bool(settings.modern_protocol_versions)
        self.children: list[PooledChild] = []  # initialized and not yet exited, retiring included
        self._processes: set[ChildProcess] = set()  # every spawned process not yet reaped
        self._starting = 0
        self._numbers = itertools.count(1)
        self._changed = asyncio.Event()
        self._closing = False
        self._closed: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._maintainer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry_at = 0.0
        self._backoff = 0.0
        self._last_failure = ""

    def stats(self) -> dict[str, Any]:
        """For /health: what is running now (never starts anything)."""
        return {
            "enabled": self.enabled,
            "size": self.settings.pool_size,
            "children": len(self.children),
            "starting": self._starting,
            "busy": sum(1 for c in self.children if c.lent),
            "in_flight": sum(c.lent for c in self.children),
        }

    # -- life cycle --------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.enabled:
            self._maintainer = asyncio.create_task(self._maintain())

    async def close_all(self) -> None:
        """End every pool child (SIGTERM, then SIGKILL after the grace); safe to call twice."""
        if self._closed is None:
            self._closed = asyncio.create_task(self._close())
        await asyncio.shield(self._closed)

    def close_all_threadsafe(self) -> None:
        """Called from a signal handler: end the pool before the server drains its streams."""
        if self._loop is not None and not self._closing:
            loop = self._loop
            loop.call_soon_threadsafe(lambda: loop.create_task(self.close_all()))

    async def _close(self) -> None:
        self._closing = True
        self._notify()
        if self._maintainer is not None:
            self._maintainer.cancel()
        if self._processes:
            logger.info("shutting down: ending %d pool children", len(self._processes))
        for pooled in self.children:
            pooled.fail_everything("the proxy is shutting down")
        await asyncio.gather(
            *(p.terminate(self.settings.kill_grace) for p in list(self._processes)),
            return_exceptions=True,
        )
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- lending -----------------------------------------------------------

    async def acquire(self) -> PooledChild:
        """Lend the least busy ready child; start one when none is idle and the bound allows.

        The caller owes a `release()` for every child it was lent.
        """
        pooled = await self.ready_child()
        pooled.lent += 1
        pooled.served += 1
        pooled.last_used = time.monotonic()
        most = self.settings.pool_max_requests
        if most and pooled.served >= most:
            self._retire(pooled, f"retired after {most} requests")  # this was its last one
        return pooled

    async def ready_child(self) -> PooledChild:
        """A ready child, without lending it (its initialize result is all the caller needs).

        Children start in the background, so a caller that gives up waiting
        does not take a half-started child down with it.
        """
        while True:
            if self._closing:
                raise PoolUnavailableError("the proxy is shutting down")
            self._retire_due()
            ready = [c for c in self.children if c.available]
            best = min(ready, key=lambda c: c.lent, default=None)
            if best is not None:
                if best.lent and self._room():
                    self._start_in_background()
                return best
            if not self._starting and self._room():
                wait = self._retry_at - time.monotonic()
                if wait > 0:
                    raise PoolUnavailableError(
                        f"{self._last_failure} (next attempt in {wait:.1f}s)"
                    )
                self._start_in_background()
            changed = self._changed
            await changed.wait()

    def release(self, pooled: PooledChild) -> None:
        pooled.lent -= 1
        pooled.last_used = time.monotonic()
        if pooled.retiring and not pooled.lent:
            self._end(pooled, pooled.retire_reason)
        self._notify()

    def child_exited(self, pooled: PooledChild, reason: str) -> None:
        self._processes.discard(pooled.child)
        if pooled in self.children:
            self.children.remove(pooled)
            if not pooled.retiring and not self._closing:
                logger.warning(
                    "%s pid=%d ended: %s; it will be replaced", pooled.tag, pooled.pid, reason
                )
        self._notify()

    # -- internals ---------------------------------------------------------

    def _room(self) -> bool:
        return len(self.children) + self._starting < self.settings.pool_size

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _start_child(self) -> None:
        """Spawn and initialize a child (its slot already counted in `_starting`)."""
        tag = f"pool-{next(self._numbers)}"
        try:
            try:
                child = await ChildProcess.for_settings(self.settings, tag)
            except OSError as exc:
                raise PoolUnavailableError(f"could not start the MCP server: {exc}") from None
            self._processes.add(child)
            pooled = PooledChild(child, self, tag)
            child.start(pooled.on_child_line, pooled.on_child_exit)
            try:
                await pooled.initialize(self.settings.pool_child_protocol_version)
                if self._closing:
                    raise PoolUnavailableError("the proxy is shutting down")
            except BaseException:
                pooled.ended = True
                await child.terminate(self.settings.kill_grace)
                self._processes.discard(child)
                raise
            self.children.append(pooled)
            self._backoff = 0.0
            self._retry_at = 0.0
            version = pooled.init_result.get("protocolVersion")
            logger.info("%s started pid=%d protocol=%s", tag, pooled.pid, version)
        except PoolUnavailableError as exc:
            if not self._closing:
                self._backoff = min(RETRY_BACKOFF_MAX, max(1.0, self._backoff * 2))
                self._retry_at = time.monotonic() + self._backoff
                self._last_failure = f"the MCP server could not start for the pool: {exc}"
                logger.error("%s: %s", tag, self._last_failure)
        finally:
            self._starting -= 1
            self._notify()

    def _start_in_background(self) -> None:
        if self._closing or time.monotonic() < self._retry_at:
            return
        self._starting += 1
        self._track(self._start_child())

    def _retire(self, pooled: PooledChild, reason: str) -> None:
        """No new requests for this child; it ends once its last one is answered."""
        pooled.retiring = True
        pooled.retire_reason = reason
        if not pooled.lent:
            self._end(pooled, reason)

    def _end(self, pooled: PooledChild, reason: str) -> None:
        """Take a child out of service and end it (it leaves `children` once it has exited)."""
        if pooled.ended:
            return
        pooled.ended = True
        pooled.retiring = True
        logger.info("%s pid=%d ending: %s", pooled.tag, pooled.pid, reason)
        self._track(pooled.child.terminate(self.settings.kill_grace))

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("pool task failed", exc_info=task.exception())

    def _retire_due(self) -> None:
        age = self.settings.pool_max_age
        if not age:
            return
        now = time.monotonic()
        for pooled in list(self.children):
            if pooled.available and now - pooled.started >= age:
                self._retire(pooled, f"retired at {age:g}s of age")

    def _end_idle(self) -> None:
        timeout = self.settings.pool_idle_timeout
        if not timeout:
            return
        now = time.monotonic()
        ready = sorted((c for c in self.children if c.available), key=lambda c: c.last_used)
        extra = len(ready) - self.settings.pool_warm
        for pooled in ready[: max(0, extra)]:
            if not pooled.lent and now - pooled.last_used > timeout:
                self._end(pooled, f"unused for more than {timeout:g}s")

    async def _maintain(self) -> None:
        """Retire and end what is due; keep `pool_warm` children ready (with backoff)."""
        while not self._closing:
            self._retire_due()
            self._end_idle()
            ready = sum(1 for c in self.children if c.available)
            for _ in range(self.settings.pool_warm - ready - self._starting):
                if self._room():
                    self._start_in_background()
            await asyncio.sleep(MAINTENANCE_INTERVAL)
