"""The StreamableHTTP endpoint, framed directly on ASGI.

The SDK's server transport parses every message into its pydantic models and
writes them back out; a proxy must not (unknown fields and future methods have
to survive), so this endpoint moves the child's bytes as they are and parses
only to route. A POST whose only answer is one response gets it as JSON; as
soon as anything else comes first, the answer becomes an SSE stream.

Requests of the per-request revision (2026-07-28, recognized by their
`MCP-Protocol-Version` header) carry no session: they are checked against
their routing headers and served from the pool of children the proxy
initialized itself (`modern.py`, `pool.py`). That path re-encodes messages;
the handshake era's bytes still pass untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from mcp.shared.inbound import find_duplicated_routing_header
from mcp_oauth_gateway_core.cors import CorsPolicy, own_origin
from mcp_oauth_gateway_core.jsonrpc import error_body
from mcp_types.jsonrpc import HEADER_MISMATCH, INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from mcp_streamablehttp_proxy import modern, rounds
from mcp_streamablehttp_proxy.config import Settings
from mcp_streamablehttp_proxy.messages import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    REQUEST_TIMEOUT,
    one_line,
    split_batch,
)
from mcp_streamablehttp_proxy.pool import (
    ChildGoneError,
    ChildPool,
    Exchange,
    Lease,
    PooledChild,
    PoolUnavailableError,
)
from mcp_streamablehttp_proxy.sessions import (
    Session,
    SessionEndedError,
    SessionLimitError,
    SessionRegistry,
    Stream,
)

logger = logging.getLogger("mcp_streamablehttp_proxy.endpoint")

SESSION_HEADER = b"mcp-session-id"
JSON_TYPE = b"application/json"
SSE_TYPE = b"text/event-stream"
SSE_HEADERS = [
    (b"content-type", SSE_TYPE),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


KEEPALIVE = b": keep-alive\n\n"


class HttpError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: int = INVALID_REQUEST,
        *,
        data: Any = None,
        request_id: Any = None,
        allow: bytes = b"GET, POST, DELETE, OPTIONS",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.data = data
        self.request_id = request_id
        self.allow = allow

    @classmethod
    def refused(cls, refusal: modern.Refusal) -> HttpError:
        return cls(
            refusal.status,
            refusal.message,
            refusal.code,
            data=refusal.data,
            request_id=refusal.request_id,
        )


def _sse(raw: bytes) -> bytes:
    return b"event: message\ndata: " + raw + b"\n\n"


def _accepts(accept: str, kind: str) -> bool:
    major = kind.split("/")[0]
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in (kind, "*/*", f"{major}/*"):
            return True
    return False


class McpEndpoint:
    def __init__(self, settings: Settings, registry: SessionRegistry, pool: ChildPool) -> None:
        self.settings = settings
        self.registry = registry
        self.pool = pool
        self.cors = CorsPolicy(settings.allowed_origins)
        self.versions = frozenset(settings.protocol_versions)
        self.modern_versions = tuple(settings.modern_protocol_versions)
        self.supported = [*settings.protocol_versions, *settings.modern_protocol_versions]
        self.rounds = rounds.Rounds(settings.request_timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers: dict[str, str] = {}
        for name, value in raw:
            headers.setdefault(name, value)  # the first copy, as Starlette and the SDK read it
        extra: list[tuple[bytes, bytes]] = []
        try:
            extra = self._check_origin(scope, headers)
            method = scope["method"]
            if method == "OPTIONS":
                await self._preflight(send, headers)
                return
            duplicated = find_duplicated_routing_header(raw)
            if duplicated is not None:
                raise HttpError(400, f"{duplicated} header appears more than once", HEADER_MISMATCH)
            version = headers.get("mcp-protocol-version")
            if version in MODERN_PROTOCOL_VERSIONS:
                await self._modern(scope, receive, send, headers, raw, extra, version)
                return
            if version is not None and version not in self.versions:
                raise HttpError.refused(modern.unsupported_version(version, self.supported))
            if method == "POST":
                await self._post(scope, receive, send, headers, extra)
            elif method == "GET":
                await self._get(receive, send, headers, extra)
            elif method == "DELETE":
                await self._delete(send, headers, extra)
            else:
                raise HttpError(405, f"Method {method} not allowed; use POST, GET or DELETE")
        except modern.Refusal as refusal:
            await self._refuse(scope, send, HttpError.refused(refusal), extra)
        except HttpError as exc:
            await self._refuse(scope, send, exc, extra)

    async def _refuse(
        self, scope: Scope, send: Send, exc: HttpError, extra: list[tuple[bytes, bytes]]
    ) -> None:
        level = logging.WARNING if exc.status == 503 else logging.DEBUG
        logger.log(level, "refused %s %s: %d %s", scope["method"], scope["path"], exc.status, exc)
        await self._error(send, exc, extra)

    # -- checks --------------------------------------------------------------

    def _check_origin(self, scope: Scope, headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
        origin = headers.get("origin")
        if origin is None:
            return []
        if not self.cors.allows(origin, own_origin(headers, scope.get("scheme", "http"))):
            raise HttpError(
                403,
                f"Origin {origin!r} is not allowed; "
                "configure MCP_PROXY_ALLOWED_ORIGINS to admit it",
            )
        return [(k.encode(), v.encode()) for k, v in self.cors.response_headers(origin).items()]

    async def _preflight(self, send: Send, headers: dict[str, str]) -> None:
        origin = headers.get("origin")
        answer = (
            self.cors.preflight_headers(origin)
            if origin
            else {"allow": "GET, POST, DELETE, OPTIONS"}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [(k.encode(), v.encode()) for k, v in answer.items()],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def _session(self, headers: dict[str, str]) -> Session:
        """The request's session (handshake era). Per-request calls never get here."""
        session_id = headers.get("mcp-session-id")
        if not session_id:
            also = ""
            if self.modern_versions:
                latest = self.modern_versions[-1]
                also = f", or make it a per-request call (MCP-Protocol-Version: {latest})"
            raise HttpError(400, f"Missing Mcp-Session-Id header; send initialize first{also}")
        session = self.registry.get(session_id)
        if session is None:
            raise HttpError(404, "Unknown or ended MCP session; initialize a new one")
        return session

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        limit = self.settings.max_message_bytes
        too_large = HttpError(
            413,
            f"Request body larger than {limit} bytes; raise MCP_PROXY_MAX_MESSAGE_BYTES",
        )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise HttpError(400, "Client disconnected before the body arrived")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    # -- POST ----------------------------------------------------------------

    async def _post(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        wants_sse, wants_json = _post_accepts(headers)
        body = await self._read_body(receive, headers)
        parsed = _parse(body)
        line = one_line(body)
        envelopes = split_batch(parsed, line)
        if not envelopes or any(e.kind == "other" for e in envelopes):
            raise HttpError(400, "Invalid Request: the body is not a JSON-RPC message or batch")
        requests = [e for e in envelopes if e.kind == "request"]

        session_header: list[tuple[bytes, bytes]] = []
        if "mcp-session-id" not in headers and _is_initialize(parsed):
            try:
                session = await self.registry.create()
            except SessionLimitError as exc:
                raise HttpError(503, str(exc)) from None
            except OSError as exc:
                logger.error("could not start the MCP server: %s", exc)
                raise HttpError(503, f"Could not start the MCP server: {exc}") from None
            session_header = [(SESSION_HEADER, session.id.encode())]
        else:
            session = self._session(headers)
        session.touch()

        if not requests:
            await self._send_to_child(session, line)
            await send({"type": "http.response.start", "status": 202, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
            return

        duplicate = [r.id for r in requests if session.in_flight(r.key)]
        if duplicate or len({r.key for r in requests}) != len(requests):
            raise HttpError(400, f"Request id {duplicate[:1] or 'in batch'} is already in use")
        batch = isinstance(parsed, list)
        stream = session.open_stream(requests, takes_unsolicited=wants_sse and not batch)
        try:
            await self._send_to_child(session, line)
            response_headers = [*extra, *session_header]
            if batch or not wants_sse:
                await self._answer_json(send, session, stream, response_headers, batch=batch)
            else:
                await self._answer(send, session, stream, wants_json, response_headers)
        finally:
            session.close_stream(stream)
            session.touch()

    async def _send_to_child(self, session: Session, line: bytes) -> None:
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                await session.send(line)
        except SessionEndedError as exc:
            raise HttpError(404, f"The MCP session has ended: {exc}") from None
        except TimeoutError:
            raise HttpError(
                504,
                f"The MCP server has not read its input for {self.settings.request_timeout:g}s",
            ) from None

    async def _answer(
        self,
        send: Send,
        session: Session,
        stream: Stream,
        wants_json: bool,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        """One request: plain JSON if its response comes first and alone, else an SSE stream.

        A request that stays silent longer than the keep-alive interval gets its
        stream opened anyway, with keep-alive comments, so that reverse proxies
        in between do not time it out.
        """
        deadline = time.monotonic() + self.settings.request_timeout
        idle = self.settings.keepalive_interval
        first = await self._next(session, stream, deadline, idle)
        answered = first and first is not KEEPALIVE and not stream.waiting
        if wants_json and answered and stream.queue.empty():
            assert first is not None
            await self._send_json(send, first, headers)
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]}
        )
        message = first
        while True:
            if message:
                chunk = message if message is KEEPALIVE else _sse(message)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not stream.waiting and stream.queue.empty():
                break
            message = await self._next(session, stream, deadline, idle)
        await send({"type": "http.response.body", "body": b""})

    async def _answer_json(
        self,
        send: Send,
        session: Session,
        stream: Stream,
        headers: list[tuple[bytes, bytes]],
        *,
        batch: bool,
    ) -> None:
        """A batch, or a client that takes JSON only: collect the answers into one body.

        Such a stream takes no server-initiated messages (they go to the GET
        stream), so what arrives here are the responses alone.
        """
        deadline = time.monotonic() + self.settings.request_timeout
        answers = []
        while stream.waiting or not stream.queue.empty():
            message = await self._next(session, stream, deadline)
            if message:
                answers.append(message)
        if batch:
            body = b"[" + b",".join(answers) + b"]"
        else:
            body = answers[0] if answers else error_body(INTERNAL_ERROR, "no answer")
        await self._send_json(send, body, headers)

    async def _send_json(
        self, send: Send, body: bytes, headers: list[tuple[bytes, bytes]], status: int = 200
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", JSON_TYPE),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _next(
        self, session: Session, stream: Stream, deadline: float, idle: float | None = None
    ) -> bytes | None:
        """The stream's next message; KEEPALIVE after `idle` quiet seconds; past the
        deadline, errors for what is still due."""
        if not stream.queue.empty():
            return stream.queue.get_nowait()
        wait = max(0.0, deadline - time.monotonic())
        ping = idle is not None and idle < wait
        try:
            async with asyncio.timeout(idle if ping else wait):
                return await stream.queue.get()
        except TimeoutError:
            if ping:
                return KEEPALIVE
            seconds = self.settings.request_timeout
            reason = (
                f"Request timed out after {seconds:g}s waiting for the MCP server; "
                "raise MCP_PROXY_REQUEST_TIMEOUT"
            )
            ids = list(stream.waiting.values())
            logger.warning("session=%s request %s timed out after %gs", session.tag, ids, seconds)
            for error in session.close_stream(stream, reason):
                stream.put(error)
            session.cancel(ids, "request timed out at the proxy")
            return stream.queue.get_nowait() if not stream.queue.empty() else None

    # -- GET -----------------------------------------------------------------

    async def _get(
        self,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        if not _accepts(headers.get("accept", ""), "text/event-stream"):
            raise HttpError(406, "Not Acceptable: Accept must include text/event-stream")
        session = self._session(headers)
        stream = session.open_get_stream()
        if stream is None:
            raise HttpError(409, "Conflict: this session already has a server-to-client stream")
        session.touch()
        disconnected = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()
            stream.close()

        watcher = asyncio.create_task(watch())
        try:
            await send(
                {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *extra]}
            )
            await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
            while not disconnected.is_set():
                try:
                    async with asyncio.timeout(self.settings.keepalive_interval):
                        message = await stream.queue.get()
                except TimeoutError:
                    await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
                    continue
                if message is None:
                    break
                await send({"type": "http.response.body", "body": _sse(message), "more_body": True})
            if not disconnected.is_set():
                await send({"type": "http.response.body", "body": b""})
        finally:
            session.close_get_stream(stream)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    # -- DELETE --------------------------------------------------------------

    async def _delete(
        self, send: Send, headers: dict[str, str], extra: list[tuple[bytes, bytes]]
    ) -> None:
        session = self._session(headers)
        await self.registry.end(session, "the client ended the session (DELETE)")
        await send({"type": "http.response.start", "status": 200, "headers": extra})
        await send({"type": "http.response.body", "body": b""})

    # -- 2026-07-28: per-request calls, served from the pool -------------------

    async def _modern(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        raw: list[tuple[str, str]],
        extra: list[tuple[bytes, bytes]],
        version: str,
    ) -> None:
        if "mcp-session-id" in headers:
            raise HttpError(
                400,
                f"An MCP {version} request carries no Mcp-Session-Id: sessions belong to the "
                "handshake era; send the session's own MCP-Protocol-Version, or drop the header",
            )
        if version not in self.modern_versions:
            hint = ""
            if not self.modern_versions:
                hint = "; per-request calls are off (MCP_PROXY_MODERN_PROTOCOL_VERSIONS is empty)"
            raise HttpError.refused(modern.unsupported_version(version, self.supported, hint))
        if scope["method"] != "POST":
            raise HttpError(
                405,
                f"Method {scope['method']} not allowed for MCP {version}: every request is a POST",
                allow=b"POST, OPTIONS",
            )
        wants_sse, wants_json = _post_accepts(headers)
        parsed = _parse(await self._read_body(receive, headers))
        request = modern.classify(parsed, raw, headers, self.modern_versions)
        if request is None:  # a notification: nothing on this wire needs one
            await send({"type": "http.response.start", "status": 202, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
            return
        if request.method == modern.DISCOVER:
            ready = await self._pool_child(lend=False, request_id=request.id)
            result = modern.discover_result(
                request.version, self.modern_versions, ready.init_result
            )
            body = modern.encode({"jsonrpc": "2.0", "id": request.id, "result": result})
            await self._send_json(send, body, extra)
            return
        retry = request.request_state is not None
        if retry:
            lease = await self._resume(request, headers)
        else:
            lease = Lease(await self._pool_child(lend=True, request_id=request.id), request)
        try:
            if not retry:  # a new request: checked, then written to the child
                await self._check_param_headers(lease.child, request, headers)
                await self._send_to_pool(lease.child, request, lease.exchange)
            await self._answer_modern(send, receive, lease, headers, extra, wants_sse, wants_json)
        finally:
            if not lease.parked:
                lease.end("the request ended at the proxy")

    async def _check_param_headers(
        self, pooled: PooledChild, request: modern.ModernRequest, headers: dict[str, str]
    ) -> None:
        tool = modern.needs_param_check(request, headers)
        if tool is not None:
            schema = await pooled.input_schema(tool)
            modern.check_param_headers(request, schema, headers)

    async def _resume(self, request: modern.ModernRequest, headers: dict[str, str]) -> Lease:
        """A retry presenting a requestState: the waiting round it continues, answers delivered.

        Checked like any request (its headers were, by `classify`, and its
        `Mcp-Param-*` are here), then against the round: an unknown, expired,
        used or foreign token is 400 and reaches no child.
        """
        waiting = self.rounds.find(request.request_state)
        if waiting is None:
            raise modern.Refusal(
                rounds.UNKNOWN_STATE,
                INVALID_PARAMS,
                data=rounds.INVALID_STATE_DATA,
                request_id=request.id,
            )
        if waiting.binding != rounds.Binding.of(request, headers):
            raise modern.Refusal(
                rounds.FOREIGN_STATE,
                INVALID_PARAMS,
                data=rounds.INVALID_STATE_DATA,
                request_id=request.id,
            )
        lease = waiting.lease
        await self._check_param_headers(lease.child, request, headers)
        if not self.rounds.claim(waiting):  # another retry took it meanwhile
            raise modern.Refusal(
                rounds.UNKNOWN_STATE,
                INVALID_PARAMS,
                data=rounds.INVALID_STATE_DATA,
                request_id=request.id,
            )
        lease.resume(request)
        logger.info(
            "%s request %s: the client answered %d input request(s)",
            lease.child.tag,
            lease.exchange.proxy_id,
            len(waiting.asks),
        )
        rounds.deliver(waiting, request.input_responses)
        return lease

    async def _pool_child(self, *, lend: bool, request_id: Any) -> PooledChild:
        timeout = self.settings.request_timeout
        try:
            async with asyncio.timeout(timeout):
                return await (self.pool.acquire() if lend else self.pool.ready_child())
        except PoolUnavailableError as exc:
            raise HttpError(503, str(exc), request_id=request_id) from None
        except TimeoutError:
            raise HttpError(
                503,
                f"No pool child was ready within {timeout:g}s; raise MCP_PROXY_POOL_SIZE "
                "or MCP_PROXY_REQUEST_TIMEOUT",
                request_id=request_id,
            ) from None

    async def _send_to_pool(
        self, pooled: PooledChild, request: modern.ModernRequest, exchange: Exchange
    ) -> None:
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                await pooled.send(request.for_child(), exchange)
        except ChildGoneError as exc:
            raise HttpError(
                503,
                f"The pool's MCP server ended before the request reached it ({exc}); retry",
                request_id=request.id,
            ) from None
        except TimeoutError:
            raise HttpError(
                504,
                f"The MCP server has not read its input for {self.settings.request_timeout:g}s",
                request_id=request.id,
            ) from None

    async def _answer_modern(
        self,
        send: Send,
        receive: Receive,
        lease: Lease,
        request_headers: dict[str, str],
        headers: list[tuple[bytes, bytes]],
        wants_sse: bool,
        wants_json: bool,
    ) -> None:
        """The request's own answer: JSON when the result comes first, else an SSE stream.

        Progress comes first on the stream when the client reads SSE (a
        JSON-only client gets the result alone). A quiet request opens its
        stream with keep-alive comments after the keep-alive interval. A
        client that disconnects gets its request cancelled on the child. The
        child is given back before the answer goes out, so a client's next
        request finds it idle. When the child asks its client something
        (attributed to this request by the pool), the answer is an
        input_required round instead, and the lease waits for the retry.
        """
        pooled, request, exchange = lease.child, lease.request, lease.exchange
        deadline = time.monotonic() + self.settings.request_timeout
        idle = self.settings.keepalive_interval
        streaming = False
        answered = False  # once the answer (or a round) goes out, a disconnect means nothing

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            if not answered:
                exchange.queue.put_nowait(None)

        async def open_stream() -> None:
            nonlocal streaming
            if not streaming:
                streaming = True
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [*SSE_HEADERS, *headers],
                    }
                )

        async def progress(message: dict[str, Any]) -> None:
            translated = exchange.for_client(message)
            if wants_sse and translated is not None:
                await open_stream()
                chunk = _sse(modern.encode(translated))
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

        async def finish(answer: dict[str, Any]) -> None:
            nonlocal answered
            answered = True
            body = modern.encode(answer)
            if not streaming and wants_json:
                await self._send_json(send, body, headers, modern.http_status(answer))
                return
            await open_stream()
            await send({"type": "http.response.body", "body": _sse(body), "more_body": True})
            await send({"type": "http.response.body", "body": b""})

        watcher = asyncio.create_task(watch())
        try:
            while True:
                left = deadline - time.monotonic()
                try:
                    async with asyncio.timeout(min(idle, left) if wants_sse else left):
                        message = await exchange.queue.get()
                except TimeoutError:
                    if time.monotonic() < deadline:
                        await open_stream()
                        await send(
                            {"type": "http.response.body", "body": KEEPALIVE, "more_body": True}
                        )
                        continue
                    seconds = self.settings.request_timeout
                    logger.warning(
                        "%s request %s timed out after %gs", pooled.tag, exchange.proxy_id, seconds
                    )
                    lease.end("request timed out at the proxy")
                    await finish(
                        {
                            "jsonrpc": "2.0",
                            "id": request.id,
                            "error": {
                                "code": REQUEST_TIMEOUT,
                                "message": f"Request timed out after {seconds:g}s waiting for "
                                "the MCP server; raise MCP_PROXY_REQUEST_TIMEOUT",
                            },
                        }
                    )
                    return
                if message is None:
                    lease.end("the client disconnected")
                    return
                if "method" not in message:  # the answer
                    lease.end()
                    answer = exchange.for_client(message)
                    assert answer is not None
                    shaped = modern.to_client(
                        answer, request.method, request.version, pooled.server_info
                    )
                    await finish(shaped)
                    return
                if "id" not in message:
                    await progress(message)
                    continue
                # The child asks this request's client: with whatever else it has sent
                # by now, that makes a round.
                later: list[dict[str, Any] | None] = [message]
                while not exchange.queue.empty():
                    later.append(exchange.queue.get_nowait())
                if None in later:
                    lease.end("the client disconnected")
                    return
                asks = [m for m in later if m is not None and "method" in m and "id" in m]
                for item in later:
                    if item is not None and "method" in item and "id" not in item:
                        await progress(item)
                answers = [m for m in later if m is not None and "method" not in m]
                if answers:  # it answered meanwhile: nothing is left to ask for
                    for ask in asks:
                        pooled.reply_error(
                            ask["id"],
                            INVALID_REQUEST,
                            f"{ask['method']}: the request it was for has been answered",
                        )
                    exchange.queue.put_nowait(answers[0])  # a request has one answer
                    continue
                round_answer = self._open_round(lease, request_headers, asks)
                if round_answer is not None:
                    await finish(round_answer)
                    return
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    def _open_round(
        self, lease: Lease, request_headers: dict[str, str], asks: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The input_required answer carrying the child's requests; None if none can go out.

        A request that does not fit the client's revision is refused to the
        child here, and the request goes on.
        """
        request, pooled = lease.request, lease.child
        carried: dict[str, dict[str, Any]] = {}
        shaped: dict[str, dict[str, Any]] = {}
        for ask in asks:
            try:
                entry = modern.input_request(ask, request.method, request.version)
            except (ValidationError, KeyError, ValueError) as exc:
                logger.warning(
                    "%s %s does not fit MCP %s: %s",
                    pooled.tag,
                    ask.get("method"),
                    request.version,
                    modern.describe(exc),
                )
                pooled.reply_error(
                    ask["id"],
                    INVALID_PARAMS,
                    f"{ask.get('method')} cannot reach the client: its params do not fit "
                    f"MCP {request.version}",
                )
                continue
            lease.asked += 1
            key = f"input-{lease.asked}"
            carried[key] = ask
            shaped[key] = entry
        if not carried:
            return None
        token = self.rounds.open(lease, rounds.Binding.of(request, request_headers), carried)
        logger.info(
            "%s request %s asks its client for %s (input_required)",
            pooled.tag,
            lease.exchange.proxy_id,
            ", ".join(sorted({str(a.get("method")) for a in carried.values()})),
        )
        return modern.input_required(
            request.id, request.method, request.version, shaped, token, pooled.server_info
        )

    # -- errors --------------------------------------------------------------

    async def _error(self, send: Send, exc: HttpError, extra: list[tuple[bytes, bytes]]) -> None:
        body = error_body(exc.code, exc.message, exc.request_id, exc.data)
        headers = [
            (b"content-type", JSON_TYPE),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ]
        if exc.status == 405:
            headers.append((b"allow", exc.allow))
        message: Message = {"type": "http.response.start", "status": exc.status, "headers": headers}
        await send(message)
        await send({"type": "http.response.body", "body": body})


def _post_accepts(headers: dict[str, str]) -> tuple[bool, bool]:
    """(takes SSE, takes JSON) for a POST; 406 / 415 for what cannot be answered."""
    accept = headers.get("accept", "")
    wants_sse = _accepts(accept, "text/event-stream")
    wants_json = _accepts(accept, "application/json")
    if not (wants_sse or wants_json):
        raise HttpError(
            406, "Not Acceptable: Accept must include application/json and text/event-stream"
        )
    content_type = headers.get("content-type", "")
    if not content_type.lower().startswith("application/json"):
        raise HttpError(415, "Unsupported Media Type: Content-Type must be application/json")
    return wants_sse, wants_json


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise HttpError(400, "Parse error: the body is not valid JSON", PARSE_ERROR) from None


def _is_initialize(parsed: Any) -> bool:
    return isinstance(parsed, dict) and parsed.get("method") == "initialize" and "id" in parsed
