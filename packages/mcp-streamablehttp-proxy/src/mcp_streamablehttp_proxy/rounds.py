"""A pool child asks its client: multi-round-trip requests (MCP 2026-07-28, SEP-2322).

A pool child is a handshake-era server, and mid-request it may send its client
a request of its own: `sampling/createMessage`, `elicitation/create`,
`roots/list`. A 2026-07-28 client is never sent requests. Its server answers
the client's request with an `input_required` result instead, carrying the
questions (`inputRequests`) and an opaque `requestState`, and the client
retries the same request (a new id, the same method and params) with its
answers (`inputResponses`) and that state echoed.

The proxy joins the two. It can attribute a child's request only when exactly
one client request is in flight on that child (`pool.py` decides, and answers
the child itself otherwise). Then, if that client declared the matching
capability in its `_meta`, the client's HTTP response ends with an
`input_required` result whose `requestState` is a random single-use token
(`Rounds.open`), while the child keeps working on the original request and
waits for its answer. The client's retry presents the token (`Rounds.find`,
`Rounds.claim`): its answers go to the child as the JSON-RPC responses to the
child's requests, and whatever the child sends next for the original request
becomes the retry's own response, possibly another round.

A token is good for the request that received it only: the same method, the
same tool/prompt name or resource URI, the same arguments, and (behind the
gateway) the same `X-User-Id` / `X-Client-Id`. It lives in this process'
memory for at most the request timeout; unclaimed, it is forgotten, the
child's request gets an error and the original request is cancelled on the
child. Another proxy replica does not know it: servers that ask back need one
replica, or sticky routing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp_types.jsonrpc import INVALID_PARAMS

from mcp_streamablehttp_proxy.messages import REQUEST_TIMEOUT

if TYPE_CHECKING:
    from mcp_streamablehttp_proxy.modern import ModernRequest
    from mcp_streamablehttp_proxy.pool import Lease

logger = logging.getLogger("mcp_streamablehttp_proxy.rounds")

# A server-to-client request, and the client capability that lets a client answer it.
ASKABLE = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}
# What the proxy declares to a pool child for each capability it relays. Sampling is
# declared plain (no `tools`, no `context`): a server that would sample differently for a
# client that has them samples the way every sampling client can answer.
DECLARED: dict[str, dict[str, Any]] = {
    "sampling": {},
    "elicitation": {"form": {}, "url": {}},
    "roots": {},
}
# Set by Traefik's ForwardAuth from the verified token (client copies are replaced).
PRINCIPAL_HEADERS = ("x-user-id", "x-client-id")
INVALID_STATE_DATA = {"reason": "invalid_request_state"}
UNKNOWN_STATE = (
    "Invalid or expired requestState: this proxy holds no pending round for it (unknown, "
    "expired, already used, or issued by another replica of the proxy); send the request "
    "again without requestState and inputResponses"
)
FOREIGN_STATE = (
    "Invalid requestState: it was issued for a different request; a retry repeats the "
    "method, name or URI, and arguments of the request that received it"
)


def declared_capabilities(names: Iterable[str]) -> dict[str, Any]:
    """The `capabilities` of the proxy's `initialize` to a pool child."""
    return {name: dict(DECLARED[name]) for name in names if name in DECLARED}


def missing_capability(
    capabilities: Mapping[str, Any], method: str, params: Mapping[str, Any]
) -> str | None:
    """The capability a client lacks to answer `method` with `params`; None when it has it.

    The same rules a handshake-era server follows: sampling with tools needs
    `sampling.tools`; a URL elicitation needs `elicitation.url`, a form one
    `elicitation.form` (an empty `elicitation` means form only).
    """
    kind = ASKABLE.get(method)
    if kind is None:
        return method
    declared = capabilities.get(kind)
    if not isinstance(declared, dict):
        return kind
    with_tools = bool(params.get("tools") or params.get("toolChoice"))
    if kind == "sampling" and with_tools and not isinstance(declared.get("tools"), dict):
        return "sampling.tools"
    if kind == "elicitation":
        mode = params.get("mode", "form")
        if mode == "url" and not isinstance(declared.get("url"), dict):
            return "elicitation.url"
        if mode != "url" and declared and not isinstance(declared.get("form"), dict):
            return "elicitation.form"
    return None


@dataclass(frozen=True, slots=True)
class Binding:
    """What a retry must repeat to continue a round (the SDK's server binds the same)."""

    method: str
    target: str
    arguments: str
    principal: tuple[str | None, ...]

    @classmethod
    def of(cls, request: ModernRequest, headers: Mapping[str, str]) -> Binding:
        params = request.params
        key = "uri" if request.method == "resources/read" else "name"
        arguments = params.get("arguments") or {}
        canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"))
        return cls(
            method=request.method,
            target=str(params.get(key, "")),
            arguments=hashlib.sha256(canonical.encode()).hexdigest(),
            principal=tuple(headers.get(name) for name in PRINCIPAL_HEADERS),
        )


@dataclass(eq=False)
class Round:
    """One `input_required` answer a client has not retried yet."""

    token: str
    lease: Lease
    binding: Binding
    asks: dict[str, dict[str, Any]]  # input key -> the child's request, its id included
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class Rounds:
    """The rounds waiting for their client's retry, by token; each expires after `timeout`."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._open: dict[str, Round] = {}

    def __len__(self) -> int:
        return len(self._open)

    def open(self, lease: Lease, binding: Binding, asks: dict[str, dict[str, Any]]) -> str:
        """Park the lease until the client retries; the token to send it as requestState."""
        token = secrets.token_urlsafe(32)
        waiting = Round(token, lease, binding, asks)
        waiting.timer = asyncio.get_running_loop().call_later(self.timeout, self._expire, waiting)
        lease.parked = True
        self._open[token] = waiting
        return token

    def find(self, token: object) -> Round | None:
        return self._open.get(token) if isinstance(token, str) else None

    def claim(self, waiting: Round) -> bool:
        """Take the round for one retry; False when another retry (or expiry) took it first."""
        if self._open.get(waiting.token) is not waiting:
            return False
        del self._open[waiting.token]
        if waiting.timer is not None:
            waiting.timer.cancel()
        return True

    def _expire(self, waiting: Round) -> None:
        if self._open.get(waiting.token) is not waiting:
            return
        del self._open[waiting.token]
        lease = waiting.lease
        reason = (
            f"the client did not retry within {self.timeout:g}s with an answer "
            "(MCP_PROXY_REQUEST_TIMEOUT)"
        )
        logger.info(
            "%s request %s: %s; cancelled",
            lease.child.tag,
            lease.exchange.proxy_id,
            reason,
        )
        for ask in waiting.asks.values():
            lease.child.reply_error(
                ask.get("id"), REQUEST_TIMEOUT, f"{ask.get('method')}: {reason}"
            )
        lease.end(reason)


def deliver(waiting: Round, responses: object) -> None:
    """The retry's answers, to the child, as the responses to its own requests."""
    answers = responses if isinstance(responses, dict) else {}
    child = waiting.lease.child
    for key, ask in waiting.asks.items():
        answer = answers.get(key)
        if isinstance(answer, dict):
            child.reply(ask.get("id"), answer)
        else:
            child.reply_error(
                ask.get("id"),
                INVALID_PARAMS,
                f"the client retried without an answer to {ask.get('method')}",
            )
