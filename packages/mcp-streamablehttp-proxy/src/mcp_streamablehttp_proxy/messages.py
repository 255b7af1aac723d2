"""Just enough JSON-RPC to route a message; the bytes themselves pass through untouched.

A message is parsed only to learn its kind, id and progress token: it is never
re-serialised, so unknown fields and methods of future protocol revisions
reach the other side exactly as they were written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from mcp_oauth_gateway_core.jsonrpc import INTERNAL_ERROR as INTERNAL_ERROR
from mcp_oauth_gateway_core.jsonrpc import INVALID_REQUEST as INVALID_REQUEST
from mcp_oauth_gateway_core.jsonrpc import METHOD_NOT_FOUND as METHOD_NOT_FOUND
from mcp_oauth_gateway_core.jsonrpc import PARSE_ERROR as PARSE_ERROR

Kind = Literal["request", "notification", "response", "other"]

# The SDK's code for "the connection to the server closed": clients treat it as final.
CONNECTION_CLOSED = -32000
REQUEST_TIMEOUT = -32001


def id_key(value: object) -> str:
    """Request ids 1 and "1" are different ids: key them by type and value."""
    return f"{type(value).__name__}:{value}"


@dataclass(frozen=True, slots=True)
class Envelope:
    kind: Kind
    raw: bytes
    method: str | None = None
    id: Any = None
    progress_token: Any = None

    @property
    def key(self) -> str:
        return id_key(self.id)


def _request_id(value: object) -> bool:
    """MCP request ids are strings or integers, never null (a bool is not an integer here)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def classify(obj: object, raw: bytes) -> Envelope:
    """A message that is not JSON-RPC 2.0 is "other": refused at once, never handed to a
    server that would drop it silently and leave its client waiting for the timeout."""
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
        return Envelope("other", raw)
    method = obj.get("method")
    if isinstance(method, str):
        if "id" in obj and not _request_id(obj["id"]):
            return Envelope("other", raw)
        if "id" not in obj:
            token = None
            if method == "notifications/progress":
                params = obj.get("params")
                token = params.get("progressToken") if isinstance(params, dict) else None
            return Envelope("notification", raw, method=method, progress_token=token)
        params = obj.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        return Envelope("request", raw, method=method, id=obj["id"], progress_token=token)
    if "id" in obj and ("result" in obj or "error" in obj):
        return Envelope("response", raw, id=obj["id"])
    return Envelope("other", raw)


def split_batch(parsed: object, raw: bytes) -> list[Envelope]:
    """One envelope per message; a batch's members are re-encoded, single messages are not."""
    if isinstance(parsed, list):
        return [classify(item, json.dumps(item, separators=(",", ":")).encode()) for item in parsed]
    return [classify(parsed, raw)]


def one_line(body: bytes) -> bytes:
    """stdio frames are lines: JSON allows raw newlines only as whitespace, so blank them."""
    if b"\n" in body or b"\r" in body:
        body = body.replace(b"\r", b" ").replace(b"\n", b" ")
    return body.strip()


def cancelled_notification(request_id: Any, reason: str) -> bytes:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": reason},
        },
        separators=(",", ":"),
    ).encode()
