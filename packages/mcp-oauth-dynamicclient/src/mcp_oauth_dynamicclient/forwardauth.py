"""GET /verify: Traefik's ForwardAuth question, asked before every MCP request.

The resource is what the client asked Traefik for (X-Forwarded-Proto/Host/Uri,
which Traefik sets itself with trustForwardHeader off); the token must have
been issued for exactly that resource. One Redis round trip per call (the
revocation check); if Redis cannot answer, 503: the gateway fails closed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from mcp_oauth_dynamicclient.grants import Grants
from mcp_oauth_dynamicclient.policy import Policy
from mcp_oauth_dynamicclient.resources import Resources
from mcp_oauth_dynamicclient.tokens import AccessTokens, InvalidToken

log = logging.getLogger(__name__)

REALM = "mcp-gateway"
# JSON-RPC implementation-defined server error: the gateway's policy refuses the call.
FORBIDDEN = -32003
NO_STORE = ("cache-control", "no-store")


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Verdict:
    """/verify's answer, free of any web framework: it is sent as raw ASGI messages."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: Mapping[str, Any] | None = None

    def encoded(self) -> tuple[list[tuple[bytes, bytes]], bytes]:
        body = b"" if self.body is None else json.dumps(self.body, separators=(",", ":")).encode()
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        if self.body is not None:
            headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(body)).encode()))
        return headers, body


ALLOWED_PREFLIGHT = Verdict(200)


def _policy_refusal(reason: str) -> Verdict:
    """A plain 403 no token can fix, as a JSON-RPC error: Traefik hands this body to the
    MCP client, whose SDK shows a JSON-RPC error's message (and nothing of other bodies)."""
    return Verdict(
        403,
        (NO_STORE,),
        {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": FORBIDDEN,
                "message": f"Forbidden by the gateway's policy: {reason}",
                "data": {"error": "access_denied", "error_description": reason},
            },
        },
    )


def _challenge(
    status: int,
    metadata_url: str,
    error: str | None = None,
    description: str = "",
    scope: str = "",
) -> Verdict:
    parts = [f"realm={_quoted(REALM)}"]
    if error:
        parts.append(f"error={_quoted(error)}")
        if description:
            parts.append(f"error_description={_quoted(description)}")
    if scope:
        parts.append(f"scope={_quoted(scope)}")
    parts.append(f"resource_metadata={_quoted(metadata_url)}")
    body = {"error": error or "invalid_request", "error_description": description}
    if not error:
        body["error_description"] = "a bearer token is required"
    return Verdict(status, (("www-authenticate", "Bearer " + ", ".join(parts)), NO_STORE), body)


def _first_values(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name, the first copy of each (as Starlette reads them)."""
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return headers


class ForwardAuth:
    def __init__(
        self, resources: Resources, access: AccessTokens, grants: Grants, policy: Policy
    ) -> None:
        self.resources = resources
        self.access = access
        self.grants = grants
        self.policy = policy

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The hot path: straight from the ASGI scope to the answer."""
        verdict = await self.decide(_first_values(scope), scope["method"])
        headers, body = verdict.encoded()
        await send({"type": "http.response.start", "status": verdict.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def decide(self, headers: Mapping[str, str], method: str) -> Verdict:
        if headers.get("x-forwarded-method", method) == "OPTIONS":
            return ALLOWED_PREFLIGHT  # CORS preflight carries no token
        proto = headers.get("x-forwarded-proto", "http")
        host = headers.get("x-forwarded-host") or headers.get("host", "")
        path = headers.get("x-forwarded-uri", "/").split("?", 1)[0]
        service = path.lstrip("/").split("/", 1)[0]
        if service not in self.resources.services:
            return Verdict(
                404, (), {"error": "not_found", "error_description": f"no MCP service at {path}"}
            )
        origin = f"{proto}://{host}"
        metadata_url = self.resources.metadata_url(service, origin)
        needed = self.resources.required.get(service, [])
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _challenge(401, metadata_url, scope=" ".join(needed))
        try:
            claims = self.access.verify(token.strip(), audience=self.resources.url(service, origin))
        except InvalidToken as exc:
            return _challenge(401, metadata_url, "invalid_token", str(exc))
        try:
            revoked = await self.grants.is_revoked(claims)
        except (RedisError, OSError) as exc:
            log.error("cannot check revocation, refusing: %s", type(exc).__name__)
            return Verdict(
                503,
                (("retry-after", "5"), NO_STORE),
                {"error": "temporarily_unavailable", "error_description": "try again shortly"},
            )
        if revoked:
            return _challenge(401, metadata_url, "invalid_token", "the token was revoked")
        granted = str(claims.get("scope", "")).split()
        if missing := [s for s in needed if s not in granted]:
            return _challenge(
                403,
                metadata_url,
                "insufficient_scope",
                f"this service needs the scope {' '.join(missing)}",
                scope=" ".join(dict.fromkeys([*granted, *needed])),
            )
        decision = self.policy.decide(
            service,
            headers,
            sub=str(claims["sub"]),
            client_id=str(claims["client_id"]),
            scopes=granted,
        )
        if decision.missing_scopes:
            return _challenge(
                403,
                metadata_url,
                "insufficient_scope",
                decision.reason,
                scope=" ".join(dict.fromkeys([*granted, *decision.missing_scopes])),
            )
        if not decision.allowed:
            return _policy_refusal(decision.reason)
        return Verdict(
            200,
            (
                ("x-user-id", str(claims["sub"])),
                ("x-user-name", str(claims.get("login", ""))),
                ("x-client-id", str(claims["client_id"])),
                ("x-scopes", " ".join(granted)),
            ),
        )
