"""MCP sessions, each owning one child process, and the registry that bounds and reaps them.

Routing of what the child writes:
- a response goes to the HTTP stream of the POST that carried its request;
- a progress notification goes to the stream whose request asked for it;
- anything else the server starts (requests such as sampling, elicitation,
  roots/list; logging and list_changed notifications; methods not yet
  invented) goes to the GET stream when one is open, else to the newest open
  POST stream, else waits (bounded) for a GET stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp_oauth_gateway_core.jsonrpc import error_body

from mcp_streamablehttp_proxy.child import ChildProcess
from mcp_streamablehttp_proxy.config import Settings
from mcp_streamablehttp_proxy.messages import (
    CONNECTION_CLOSED,
    REQUEST_TIMEOUT,
    Envelope,
    cancelled_notification,
    split_batch,
)

logger = logging.getLogger("mcp_streamablehttp_proxy.sessions")

BACKLOG_LIMIT = 1000  # server-initiated messages kept for a GET stream not yet open


class SessionLimitError(Exception):
    pass


class SessionEndedError(Exception):
    pass


@dataclass(eq=False)
class Stream:
    """Where one HTTP response (a POST's, or the GET stream) takes its messages from."""

    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    waiting: dict[str, Any] = field(default_factory=dict)  # id key -> id, answers still due
    progress_tokens: tuple[Any, ...] = ()
    takes_unsolicited: bool = True  # False for a client that reads JSON answers only

    def put(self, raw: bytes) -> None:
        self.queue.put_nowait(raw)

    def close(self) -> None:
        self.queue.put_nowait(None)


class Session:
    def __init__(self, session_id: str, child: ChildProcess, registry: SessionRegistry) -> None:
        self.id = session_id
        self.tag = session_id[:8]  # enough to follow a session in the log, not to hijack it
        self.child = child
        self.registry = registry
        self.pending: dict[str, Stream] = {}
        self.post_streams: dict[Stream, None] = {}  # ordered: newest last
        self.get_stream: Stream | None = None
        self.backlog: deque[bytes] = deque(maxlen=BACKLOG_LIMIT)
        self.last_active = time.monotonic()
        self.ended = False
        self.end_reason = ""

    # -- from the client ---------------------------------------------------

    def touch(self) -> None:
        self.last_active = time.monotonic()

    async def send(self, line: bytes) -> None:
        if self.ended:
            raise SessionEndedError(self.end_reason)
        try:
            self.child.write(line + b"\n")
            await self.child.drain()
        except (ConnectionError, OSError) as exc:
            raise SessionEndedError(self.child.exit_reason or str(exc)) from None

    def open_stream(self, requests: Sequence[Envelope], *, takes_unsolicited: bool) -> Stream:
        """Register the stream that will carry these requests' answers (ids must be new)."""
        stream = Stream(
            waiting={r.key: r.id for r in requests},
            progress_tokens=tuple(r.progress_token for r in requests if r.progress_token),
            takes_unsolicited=takes_unsolicited,
        )
        for key in stream.waiting:
            self.pending[key] = stream
        self.post_streams[stream] = None
        return stream

    def in_flight(self, key: str) -> bool:
        return key in self.pending

    def close_stream(self, stream: Stream, reason: str | None = None) -> list[bytes]:
        """Forget a stream; with `reason`, the answers still due become errors (returned)."""
        self.post_streams.pop(stream, None)
        errors = []
        for key, request_id in stream.waiting.items():
            if self.pending.get(key) is stream:
                del self.pending[key]
            if reason is not None:
                errors.append(error_body(REQUEST_TIMEOUT, reason, request_id))
        stream.waiting.clear()
        return errors

    def cancel(self, request_ids: Sequence[Any], reason: str) -> None:
        """Tell the child to stop; never waits (a child that stopped reading must not block)."""
        for request_id in request_ids:
            with contextlib.suppress(ConnectionError, OSError):
                self.child.write(cancelled_notification(request_id, reason) + b"\n")

    def open_get_stream(self) -> Stream | None:
        """The server-to-client stream, or None when one is already open."""
        if self.get_stream is not None:
            return None
        stream = Stream()
        while self.backlog:
            stream.put(self.backlog.popleft())
        self.get_stream = stream
        return stream

    def close_get_stream(self, stream: Stream) -> None:
        if self.get_stream is stream:
            self.get_stream = None

    # -- from the child ----------------------------------------------------

    def on_child_line(self, line: bytes) -> None:
        raw = line.rstrip(b"\r\n").strip()
        try:
            parsed = json.loads(raw)
        except ValueError:
            logger.warning(
                "session=%s child wrote a non-JSON line; dropped: %r", self.tag, raw[:200]
            )
            return
        for envelope in split_batch(parsed, raw):
            self._route(envelope)

    def _route(self, envelope: Envelope) -> None:
        if envelope.kind == "response":
            stream = self.pending.pop(envelope.key, None)
            if stream is None:
                logger.debug("session=%s answer to %r nobody waits for", self.tag, envelope.id)
                return
            stream.waiting.pop(envelope.key, None)
            stream.put(envelope.raw)
            return
        if envelope.kind == "other":
            logger.warning(
                "session=%s child wrote JSON that is not JSON-RPC; dropped: %r",
                self.tag,
                envelope.raw[:200],
            )
            return
        streams = [s for s in reversed(self.post_streams) if s.takes_unsolicited]
        if envelope.progress_token is not None:
            for stream in streams:
                if envelope.progress_token in stream.progress_tokens:
                    stream.put(envelope.raw)
                    return
        if self.get_stream is not None:
            self.get_stream.put(envelope.raw)
        elif streams:
            streams[0].put(envelope.raw)
        else:
            self.backlog.append(envelope.raw)

    async def on_child_exit(self, reason: str) -> None:
        if not self.ended:
            logger.info("session=%s ended: %s", self.tag, reason)
        await self.registry.end(self, reason, terminate=False)

    def fail_everything(self, reason: str) -> None:
        """Answer every request still due with an error naming the reason; close the streams."""
        message = f"{reason}; the MCP session has ended"
        for stream in list(self.post_streams):
            for request_id in stream.waiting.values():
                stream.put(error_body(CONNECTION_CLOSED, message, request_id))
            stream.waiting.clear()
            stream.close()
        self.pending.clear()
        self.post_streams.clear()
        if self.get_stream is not None:
            self.get_stream.close()
            self.get_stream = None


class SessionRegistry:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sessions: dict[str, Session] = {}
        self._starting = 0
        self._sweeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    def __len__(self) -> int:
        return len(self.sessions)

    def get(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    async def create(self) -> Session:
        if self._closing:
            raise SessionLimitError("the proxy is shutting down")
        if len(self.sessions) + self._starting >= self.settings.max_sessions:
            raise SessionLimitError(
                f"session limit reached ({self.settings.max_sessions} active); end a session "
                "or raise MCP_PROXY_MAX_SESSIONS"
            )
        session_id = secrets.token_urlsafe(32)
        self._starting += 1
        try:
            child = await ChildProcess.for_settings(self.settings, session_id[:8])
        finally:
            self._starting -= 1
        session = Session(session_id, child, self)
        self.sessions[session_id] = session
        child.start(session.on_child_line, session.on_child_exit)
        logger.info("session=%s started pid=%d", session.tag, child.pid)
        return session

    async def end(self, session: Session, reason: str, *, terminate: bool = True) -> None:
        if not session.ended:
            session.ended = True
            session.end_reason = reason
            self.sessions.pop(session.id, None)
            session.fail_everything(reason)
            if terminate:
                logger.info("session=%s ending: %s", session.tag, reason)
        if terminate:
            await session.child.terminate(self.settings.kill_grace)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._sweeper = asyncio.create_task(self._sweep())

    async def close_all(self) -> None:
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        sessions = list(self.sessions.values())
        if sessions:
            logger.info("shutting down: ending %d sessions", len(sessions))
        await asyncio.gather(
            *(self.end(s, "the proxy is shutting down") for s in sessions),
            return_exceptions=True,
        )

    def close_all_threadsafe(self) -> None:
        """Called from a signal handler: end every session before the server drains streams."""
        if self._loop is not None and not self._closing:
            loop = self._loop
            loop.call_soon_threadsafe(lambda: loop.create_task(self.close_all()))

    async def _sweep(self) -> None:
        timeout = self.settings.session_timeout
        interval = min(1.0, timeout / 4)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            idle = [
                s for s in self.sessions.values() if not s.pending and now - s.last_active > timeout
            ]
            await asyncio.gather(
                *(self.end(s, f"idle for more than {timeout:g}s") for s in idle),
                return_exceptions=True,
            )
