"""Per-session memory, kept in step with the SDK's sessions.

The SDK owns the sessions themselves (ids from a CSPRNG, 404 for unknown ids,
idle expiry, the session cap). `SessionTracker` watches the HTTP exchanges to
learn when a session opens (initialize answered with an Mcp-Session-Id), is
used, and ends (DELETE); `SessionStore.expire` drops what idle expiry ended.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_HEADER = "mcp-session-id"


@dataclass
class EchoRecord:
    message: str
    at: float


@dataclass
class SessionState:
    session_id: str
    queue_limit: int
    created: float = field(default_factory=time.time)
    last_activity: float = field(default_factory=time.time)
    message_count: int = 0
    echoes: deque[EchoRecord] = field(init=False)

    def __post_init__(self) -> None:
        self.echoes = deque(maxlen=self.queue_limit)


class SessionStore:
    def __init__(self, queue_limit: int) -> None:
        self.queue_limit = queue_limit
        self._sessions: dict[str, SessionState] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, session_id: str) -> None:
        self._sessions[session_id] = SessionState(session_id, self.queue_limit)

    def get(self, session_id: str) -> SessionState | None:
        return self._sessions.get(session_id)

    def touch(self, session_id: str, *, message: bool) -> None:
        state = self._sessions.get(session_id)
        if state is not None:
            state.last_activity = time.time()
            state.message_count += int(message)

    def close(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def record_echo(self, session_id: str, message: str) -> None:
        state = self._sessions.get(session_id)
        if state is not None:
            state.echoes.append(EchoRecord(message, time.time()))

    def expire(self, idle_seconds: float) -> list[str]:
        cutoff = time.time() - idle_seconds
        gone = [sid for sid, s in self._sessions.items() if s.last_activity < cutoff]
        for sid in gone:
            del self._sessions[sid]
        return gone


class SessionTracker:
    """ASGI middleware that feeds a SessionStore from the requests and answers."""

    def __init__(self, app: ASGIApp, store: SessionStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        session_id = Headers(scope=scope).get(SESSION_HEADER)
        if session_id is not None:
            self.store.touch(session_id, message=method == "POST")

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if session_id is None and method == "POST" and status == 200:
                    issued = Headers(raw=message.get("headers", [])).get(SESSION_HEADER)
                    if issued is not None:
                        self.store.open(issued)
                        self.store.touch(issued, message=True)
                elif session_id is not None and (
                    status == 404 or (method == "DELETE" and status < 300)
                ):
                    self.store.close(session_id)  # ended by the client or by the SDK
            await send(message)

        await self.app(scope, receive, watch)
