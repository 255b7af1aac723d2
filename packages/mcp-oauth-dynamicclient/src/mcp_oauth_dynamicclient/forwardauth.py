"""GET /verify: Traefik's ForwardAuth question, asked before every MCP request.

The resource is what the client asked Traefik for (X-Forwarded-Proto/Host/Uri,
which Traefik sets itself with trustForwardHeader off); the token must have
been issued for exactly that resource. One Redis round trip per call (the
revocation check); if Redis cannot answer, 503: the gateway fails closed.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_oauth_dynamicclient.grants import Grants
from mcp_oauth_dynamicclient.policy import Policy
from mcp_oauth_dynamicclient.resources import Resources
from mcp_oauth_dynamicclient.tokens import AccessTokens, InvalidToken

log = logging.getLogger(__name__)

REALM = "mcp-gateway"
# JSON-RPC implementation-defined server error: the gateway's policy refuses the call.
FORBIDDEN = -32003


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _policy_refusal(reason: str) -> Response:
    """A plain 403 no token can fix, as a JSON-RPC error: Traefik hands this body to the
    MCP client, whose SDK shows a JSON-RPC error's message (and nothing of other bodies)."""
    return JSONResponse(
        {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": FORBIDDEN,
                "message": f"Forbidden by the gateway's policy: {reason}",
                "data": {"error": "access_denied", "error_description": reason},
            },
        },
        status_code=403,
        headers={"Cache-Control": "no-store"},
    )


class ForwardAuth:
    def __init__(
        self, resources: Resources, access: AccessTokens, grants: Grants, policy: Policy
    ) -> None:
        self.resources = resources
        self.access = access
        self.grants = grants
        self.policy = policy

    def _challenge(
        self,
        status: int,
        metadata_url: str,
        error: str | None = None,
        description: str = "",
        scope: str = "",
    ) -> Response:
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
        return JSONResponse(
            body,
            status_code=status,
            headers={"WWW-Authenticate": "Bearer " + ", ".join(parts), "Cache-Control": "no-store"},
        )

    async def verify(self, request: Request) -> Response:
        headers = request.headers
        if headers.get("x-forwarded-method", request.method) == "OPTIONS":
            return Response(status_code=200)  # CORS preflight carries no token
        proto = headers.get("x-forwarded-proto", "http")
        host = headers.get("x-forwarded-host") or headers.get("host", "")
        path = headers.get("x-forwarded-uri", "/").split("?", 1)[0]
        service = path.lstrip("/").split("/", 1)[0]
        if service not in self.resources.services:
            return JSONResponse(
                {"error": "not_found", "error_description": f"no MCP service at {path}"},
                status_code=404,
            )
        origin = f"{proto}://{host}"
        metadata_url = self.resources.metadata_url(service, origin)
        needed = self.resources.required.get(service, [])
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._challenge(401, metadata_url, scope=" ".join(needed))
        try:
            claims = self.access.verify(token.strip(), audience=self.resources.url(service, origin))
        except InvalidToken as exc:
            return self._challenge(401, metadata_url, "invalid_token", str(exc))
        try:
            revoked = await self.grants.is_revoked(claims)
        except (RedisError, OSError) as exc:
            log.error("cannot check revocation, refusing: %s", type(exc).__name__)
            return JSONResponse(
                {"error": "temporarily_unavailable", "error_description": "try again shortly"},
                status_code=503,
                headers={"Retry-After": "5", "Cache-Control": "no-store"},
            )
        if revoked:
            return self._challenge(401, metadata_url, "invalid_token", "the token was revoked")
        granted = str(claims.get("scope", "")).split()
        if missing := [s for s in needed if s not in granted]:
            return self._challenge(
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
            return self._challenge(
                403,
                metadata_url,
                "insufficient_scope",
                decision.reason,
                scope=" ".join(dict.fromkeys([*granted, *decision.missing_scopes])),
            )
        if not decision.allowed:
            return _policy_refusal(decision.reason)
        return Response(
            status_code=200,
            headers={
                "X-User-Id": str(claims["sub"]),
                "X-User-Name": str(claims.get("login", "")),
                "X-Client-Id": str(claims["client_id"]),
                "X-Scopes": " ".join(granted),
            },
        )
