"""The stdio bridge: an MCP server on stdin/stdout that forwards every message to the
StreamableHTTP server and every message back, both directions, unchanged.

Both halves are the SDK's transports; between them this only pumps messages. The
client's `initialize` is first answered by a `server/discover` probe: a server that
speaks a 2026-07-28 revision is then spoken to in that revision (`eras.py`), with
the bridge answering the handshake itself; any other server gets the handshake and
every message passes through unchanged.

When there are no usable credentials (and the bridge may not open a browser), it
answers by itself instead of hanging the desktop client: `initialize` succeeds,
lists are empty, and tool calls say how to sign in. Once credentials appear
(someone ran the login command), the next request connects upstream, opens the
conversation the client asked for, and tells the client its tools changed.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import signal
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp.client.streamable_http import streamable_http_client
from mcp.server.stdio import stdio_server
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.message import ClientMessageMetadata, SessionMessage
from mcp_types import (
    INTERNAL_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
)
from mcp_types import methods as wire
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from mcp_streamablehttp_client import __name__ as package_name
from mcp_streamablehttp_client import __version__
from mcp_streamablehttp_client.auth import GatewayAuth, LoginRequired
from mcp_streamablehttp_client.config import Settings
from mcp_streamablehttp_client.eras import (
    DISCOVER_ID,
    FORWARDED_NOTIFICATIONS,
    LOCAL_METHODS,
    ModernUpstream,
    discover_message,
    modern_version,
)
from mcp_streamablehttp_client.upstream import AUTH_FAILED, answering_client

logger = logging.getLogger(__name__)

Streams = tuple[Any, Any]
REPLAYED_INIT_ID = "mcp-streamablehttp-client/initialize"
INPUT_ID = "mcp-streamablehttp-client/input/{}"
RETRY_ID = "mcp-streamablehttp-client/retry/{}"
# Seconds the upstream session (DELETE) and stdout get to close once the client has gone.
CLOSE_GRACE = 2.0
# Rounds of input_required answers one request may take, as the SDK's own client allows.
MAX_INPUT_ROUNDS = 10
EMPTY_LISTS = {
    "tools/list": "tools",
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
    "prompts/list": "prompts",
}


@dataclass
class Answer:
    """Awaited: the stdio client's answer to a request the bridge sent it."""

    done: anyio.Event = field(default_factory=anyio.Event)
    message: JSONRPCResponse | JSONRPCError | None = None


@dataclass
class ModernCall:
    """A stdio request in flight on a 2026-07-28 server, under one upstream id per round."""

    request: JSONRPCRequest
    rounds: int = 0


class Bridge:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.auth = GatewayAuth(settings, interactive=settings.browser_login, raise_on_login=False)
        self.local = False
        self.initialize: JSONRPCRequest | None = None
        self.pending: dict[str | int, str] = {}
        self.upstream_write: Any = None
        self.stdio_write: Any = None
        self.modern: ModernUpstream | None = None
        self.handshake_version: str | None = None  # what the server's initialize answer agreed
        self.calls: dict[Any, ModernCall] = {}  # upstream id -> call (2026-07-28 only)
        self.inputs: dict[Any, Answer] = {}  # our requests to the stdio client
        self._ids = itertools.count(1)
        self._stack = AsyncExitStack()  # the upstream: HTTP client and transport
        self._signalled = False  # SIGTERM or SIGINT, rather than stdin's end
        self._replayed = anyio.Event()
        self._discovery = Answer()

    @property
    def login_message(self) -> str:
        return str(LoginRequired(self.settings.server_url))

    async def run(self, streams: Streams | None = None) -> None:
        """Bridge until the desktop client goes: stdin closed, SIGTERM or SIGINT.

        Then every message in flight and a sign-in in progress are abandoned, the
        HTTP session ends (DELETE, in the handshake era) and stdout is flushed, all
        within CLOSE_GRACE: a desktop client that restarts leaves no orphan.
        """
        # From the very start, so that a signal is never the default one (a kill, exit 143).
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            await self._bridge(streams, signals)

    async def _bridge(self, streams: Streams | None, signals: Any) -> None:
        await self.auth.load()
        if self.auth.context.current_tokens is None and not self.settings.browser_login:
            # Not fatal: the server may need no sign-in; if it does, the bridge answers itself.
            logger.warning("%s", self.login_message)
        with anyio.CancelScope() as closing:
            async with AsyncExitStack() as stdio:
                if streams is None:
                    stdio_read, self.stdio_write = await stdio.enter_async_context(stdio_server())
                else:
                    stdio_read, self.stdio_write = streams
                stdio.push_async_callback(self.stdio_write.aclose)
                try:
                    async with self._stack:
                        read = await self._connect()
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(self._from_server, read, tg)
                            tg.start_soon(self._end_on_signals, signals, tg.cancel_scope)
                            await self._pump(stdio_read, tg)
                        # The client is gone: what is left is closing, and it may not take long.
                        closing.deadline = anyio.current_time() + CLOSE_GRACE
                finally:
                    if self._signalled and streams is None:
                        self._leave_now()
        if closing.cancelled_caught:
            logger.warning("closing took over %g s: abandoned", CLOSE_GRACE)

    async def _pump(self, stdio_read: Any, tg: TaskGroup) -> None:
        """Forward the client's messages in order. stdin's end stops the bridge at once,
        even while a message waits on the server or on a sign-in."""
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](math.inf)

        async def read_client() -> None:
            async with send:
                async for item in stdio_read:
                    await send.send(item)
            logger.info("the client closed stdin: ending")
            tg.cancel_scope.cancel()

        tg.start_soon(read_client)
        async with receive:
            async for item in receive:
                if isinstance(item, Exception):
                    logger.warning("unreadable message from the client: %s", item)
                    continue
                await self._from_client(item, tg)

    async def _end_on_signals(self, signals: Any, bridging: anyio.CancelScope) -> None:
        async for signum in signals:
            logger.info("%s: ending", signal.Signals(signum).name)
            self._signalled = True
            bridging.cancel()
            return

    @staticmethod
    def _leave_now() -> None:
        """After a signal, with the upstream closed: exit without waiting for stdin.

        The SDK reads stdin in a worker thread that nothing can interrupt, so its
        stdio transport would close only at the desktop client's next line or EOF.
        """
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)

    async def _connect(self) -> Any:
        """Open the upstream (inside self._stack); its read stream."""
        http = await self._stack.enter_async_context(
            answering_client(self.auth, self.settings.http_timeout)
        )
        read, self.upstream_write = await self._stack.enter_async_context(
            streamable_http_client(self.settings.server_url, http_client=http)
        )
        return read

    # --- client -> server ------------------------------------------------------------

    async def _from_client(self, item: SessionMessage, tg: TaskGroup) -> None:
        message = item.message
        is_initialize = isinstance(message, JSONRPCRequest) and message.method == "initialize"
        if is_initialize:
            assert isinstance(message, JSONRPCRequest)
            self.initialize = message
        if self.local and not await self._signed_in_since(tg):
            await self._answer_locally(message)
            return
        if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id in self.inputs:
            answer = self.inputs.pop(message.id)
            answer.message = message
            answer.done.set()
            return
        if is_initialize and self.modern is None and (modern := await self._discover()):
            assert isinstance(message, JSONRPCRequest)
            handshake = modern.initialize_result()
            await self._to_client(JSONRPCResponse(jsonrpc="2.0", id=message.id, result=handshake))
            return
        if self.modern is not None:
            await self._to_modern(message)
            return
        if isinstance(message, JSONRPCRequest):
            self.pending[message.id] = message.method
        if self.handshake_version is not None and not is_initialize:
            # Every request after the handshake names the agreed revision (2025-06-18 on).
            headers = {MCP_PROTOCOL_VERSION_HEADER: self.handshake_version}
            item = SessionMessage(message, metadata=ClientMessageMetadata(headers=headers))
        await self.upstream_write.send(item)

    async def _discover(self) -> ModernUpstream | None:
        """Ask the server for its revisions; a 2026-07-28 one is spoken from then on."""
        if self.settings.protocol == "handshake" or self.initialize is None:
            return None
        self._discovery = Answer()
        await self.upstream_write.send(discover_message(self.initialize))
        with anyio.move_on_after(self.settings.http_timeout):
            await self._discovery.done.wait()
        answer = self._discovery.message
        result = answer.result if isinstance(answer, JSONRPCResponse) else None
        version = modern_version(result)
        if version is None or not isinstance(result, dict):
            logger.info("%s speaks the handshake era", self.settings.server_url)
            return None
        logger.info("%s speaks %s: per-request envelopes", self.settings.server_url, version)
        self.modern = ModernUpstream(version, result, self.initialize)
        return self.modern

    async def _signed_in_since(self, tg: TaskGroup) -> bool:
        """Connect upstream once credentials appeared, opening the client's conversation."""
        if self.initialize is None or await self.auth.credentials.get_tokens() is None:
            return False
        self.auth._initialized = False
        self.auth.login_needed = False
        self.local = False
        if not await self._discover():
            replay = self.initialize.model_copy(update={"id": REPLAYED_INIT_ID})
            self.pending[REPLAYED_INIT_ID] = "initialize"
            await self.upstream_write.send(SessionMessage(replay))
            await self._replayed.wait()
            if self.local:
                return False
            await self.upstream_write.send(
                SessionMessage(
                    JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized")
                )
            )
        for changed in ("tools", "resources", "prompts"):
            await self._to_client(
                JSONRPCNotification(jsonrpc="2.0", method=f"notifications/{changed}/list_changed")
            )
        return True

    # --- the 2026-07-28 era ------------------------------------------------------------

    async def _to_modern(self, message: JSONRPCMessage) -> None:
        modern = self.modern
        assert modern is not None
        if isinstance(message, JSONRPCRequest):
            if message.method == "initialize":
                result = modern.initialize_result()
            elif message.method in LOCAL_METHODS:
                result = modern.answer_locally(message.method, message.params)
            else:
                self.pending[message.id] = message.method
                await self._send_modern(ModernCall(message), message.id)
                return
            await self._to_client(JSONRPCResponse(jsonrpc="2.0", id=message.id, result=result))
        elif isinstance(message, JSONRPCNotification) and message.method in FORWARDED_NOTIFICATIONS:
            params = dict(message.params or {})
            upstream = self._upstream_id(params.get("requestId"))
            if upstream is not None:
                params["requestId"] = upstream
                await self.upstream_write.send(
                    modern.stamp_notification(message.model_copy(update={"params": params}))
                )

    def _upstream_id(self, client_id: Any) -> Any:
        return next((k for k, c in self.calls.items() if c.request.id == client_id), None)

    async def _send_modern(self, call: ModernCall, upstream_id: Any, **extra: Any) -> None:
        assert self.modern is not None
        request = call.request
        params = {**(request.params or {}), **extra}
        self.calls[upstream_id] = call
        stamped = self.modern.stamp(
            request.model_copy(update={"id": upstream_id, "params": params or None})
        )
        await self.upstream_write.send(stamped)

    async def _from_modern(
        self, call: ModernCall, message: JSONRPCResponse | JSONRPCError, tg: TaskGroup
    ) -> None:
        assert self.modern is not None
        client_id = call.request.id
        if isinstance(message, JSONRPCResponse) and wire.is_input_required(message.result):
            tg.start_soon(self._answer_inputs, call, message.result)
            return
        self.pending.pop(client_id, None)
        if isinstance(message, JSONRPCResponse):
            result = self.modern.to_client(call.request.method, message.result)
            await self._to_client(JSONRPCResponse(jsonrpc="2.0", id=client_id, result=result))
        else:
            await self._to_client(message.model_copy(update={"id": client_id}))

    async def _answer_inputs(self, call: ModernCall, interim: dict[str, Any]) -> None:
        """Ask the stdio client what the server needs (sampling, elicitation, roots) as the
        server-to-client requests it knows, then retry the request with the answers."""
        call.rounds += 1
        if call.rounds > MAX_INPUT_ROUNDS:
            await self._fail(call, f"the server asked for input more than {MAX_INPUT_ROUNDS} times")
            return
        requests = interim.get("inputRequests") or {}
        answers: dict[str, Answer] = {}
        for key, wanted in requests.items():
            input_id = INPUT_ID.format(next(self._ids))
            answers[key] = self.inputs[input_id] = Answer()
            await self._to_client(
                JSONRPCRequest(
                    jsonrpc="2.0",
                    id=input_id,
                    method=wanted.get("method", ""),
                    params=wanted.get("params"),
                )
            )
        responses: dict[str, Any] = {}
        for key, answer in answers.items():
            await answer.done.wait()
            if isinstance(answer.message, JSONRPCError):
                await self._to_client(answer.message.model_copy(update={"id": call.request.id}))
                self.pending.pop(call.request.id, None)
                return
            assert isinstance(answer.message, JSONRPCResponse)
            responses[key] = answer.message.result
        if not requests:
            await anyio.sleep(0.05 * call.rounds)  # only state to echo: the server is working
        extra: dict[str, Any] = {"inputResponses": responses} if responses else {}
        if interim.get("requestState") is not None:
            extra["requestState"] = interim["requestState"]
        await self._send_modern(call, RETRY_ID.format(next(self._ids)), **extra)

    async def _fail(self, call: ModernCall, reason: str) -> None:
        self.pending.pop(call.request.id, None)
        await self._to_client(
            JSONRPCError(
                jsonrpc="2.0",
                id=call.request.id,
                error=ErrorData(code=INTERNAL_ERROR, message=reason),
            )
        )

    async def _answer_locally(self, message: JSONRPCMessage) -> None:
        if not isinstance(message, JSONRPCRequest):
            return
        result: dict[str, Any] | None = None
        if message.method == "initialize":
            result = self._local_initialize(message)
        elif message.method == "ping":
            result = {}
        elif message.method in EMPTY_LISTS:
            result = {EMPTY_LISTS[message.method]: []}
        elif message.method == "tools/call":
            result = {
                "content": [{"type": "text", "text": self.login_message}],
                "isError": True,
            }
        if result is not None:
            await self._to_client(JSONRPCResponse(jsonrpc="2.0", id=message.id, result=result))
        else:
            await self._to_client(
                JSONRPCError(
                    jsonrpc="2.0",
                    id=message.id,
                    error=ErrorData(code=AUTH_FAILED, message=self.login_message),
                )
            )

    def _local_initialize(self, message: JSONRPCRequest) -> dict[str, Any]:
        params = message.params or {}
        asked = params.get("protocolVersion") if isinstance(params, dict) else None
        version = asked if asked in HANDSHAKE_PROTOCOL_VERSIONS else HANDSHAKE_PROTOCOL_VERSIONS[-1]
        return {
            "protocolVersion": version,
            "capabilities": {
                "tools": {"listChanged": True},
                "resources": {"listChanged": True},
                "prompts": {"listChanged": True},
            },
            "serverInfo": {"name": package_name.replace("_", "-"), "version": __version__},
            "instructions": self.login_message,
        }

    # --- server -> client ------------------------------------------------------------

    async def _from_server(self, read: Any, tg: TaskGroup) -> None:
        async for item in read:
            if isinstance(item, Exception):
                logger.warning("unreadable message from the server: %s", item)
                continue
            message = item.message
            if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id == DISCOVER_ID:
                self._discovery.message = message
                self._discovery.done.set()
                continue
            if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id in self.calls:
                call = self.calls.pop(message.id)
                if isinstance(message, JSONRPCError) and self.auth.login_needed:
                    message = message.model_copy(
                        update={"error": ErrorData(code=AUTH_FAILED, message=self.login_message)}
                    )
                await self._from_modern(call, message, tg)
                continue
            if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
                method = self.pending.pop(message.id, None)
                if method == "initialize" and isinstance(message, JSONRPCResponse):
                    agreed = message.result.get("protocolVersion")
                    self.handshake_version = agreed if isinstance(agreed, str) else None
                if message.id == REPLAYED_INIT_ID:
                    self.local = isinstance(message, JSONRPCError)
                    self._replayed.set()
                    self._replayed = anyio.Event()
                    continue
                if isinstance(message, JSONRPCError) and self.auth.login_needed:
                    if method == "initialize":
                        # Never leave the desktop client without a server: answer it ourselves.
                        self.local = True
                        await self._answer_locally(self.initialize or message)
                        continue
                    message = JSONRPCError(
                        jsonrpc="2.0",
                        id=message.id,
                        error=ErrorData(code=AUTH_FAILED, message=self.login_message),
                    )
                    item = SessionMessage(message)
            await self.stdio_write.send(item)

    async def _to_client(self, message: JSONRPCMessage) -> None:
        await self.stdio_write.send(SessionMessage(message))


async def run_bridge(settings: Settings) -> None:
    await Bridge(settings).run()
