"""The two session tools; the nine shared ones come from the stateless package."""

from __future__ import annotations

import datetime as dt
import time

from mcp.server.mcpserver import Context, MCPServer
from mcp_echo_streamablehttp_server_stateless.system import human_duration
from mcp_echo_streamablehttp_server_stateless.tools import EchoHook, headers_of

from mcp_echo_streamablehttp_server_stateful.sessions import SESSION_HEADER, SessionStore

NO_SESSION = (
    "This request belongs to no session (MCP 2026-07-28 requests are sessionless; "
    "connect with the initialize handshake to get one)."
)


def session_id_of(ctx: Context) -> str | None:
    return headers_of(ctx).get(SESSION_HEADER)


def _stamp(epoch: float) -> str:
    iso = dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="seconds")
    return f"{iso} ({human_duration(time.time() - epoch)} ago)"


def record_echo(store: SessionStore) -> EchoHook:
    def hook(ctx: Context, message: str) -> None:
        session_id = session_id_of(ctx)
        if session_id is not None:
            store.record_echo(session_id, message)

    return hook


def register_session_tools(server: MCPServer, store: SessionStore) -> None:
    @server.tool(name="replayLastEcho", description="Replay this session's last echoed message.")
    async def replay_last_echo(ctx: Context) -> str:
        session_id = session_id_of(ctx)
        state = store.get(session_id) if session_id else None
        if state is None:
            return NO_SESSION
        if not state.echoes:
            return "No echo in this session yet: call the echo tool first."
        last = state.echoes[-1]
        return f"{last.message}\n\n(echoed {_stamp(last.at)}; {len(state.echoes)} in the queue)"

    @server.tool(
        name="sessionInfo",
        description="This session's id, age, activity, message count and queue, and live sessions.",
    )
    async def session_info(ctx: Context) -> str:
        session_id = session_id_of(ctx)
        state = store.get(session_id) if session_id else None
        if state is None:
            return f"{NO_SESSION}\nLive sessions: {len(store)}"
        rows = {
            "session id": state.session_id,
            "created": _stamp(state.created),
            "last activity": _stamp(state.last_activity),
            "messages": state.message_count,
            "queue length": f"{len(state.echoes)} of {state.queue_limit}",
            "live sessions": len(store),
        }
        width = max(len(k) for k in rows)
        return "Session info:\n" + "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows.items())
