"""Which browser origins may talk to /mcp, and the CORS answer they get.

One policy serves two purposes: the Origin check against DNS rebinding that
the 2025-11-25 transport spec requires, and the CORS headers browser-based MCP
clients need. A request's own origin (from Host, or X-Forwarded-* behind a
proxy) is always allowed; others only when configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ALLOW_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOW_HEADERS = (
    "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, "
    "Mcp-Method, Mcp-Name, Last-Event-ID"
)
EXPOSE_HEADERS = "Mcp-Session-Id, WWW-Authenticate, MCP-Protocol-Version"
MAX_AGE = "600"


def own_origin(headers: Mapping[str, str], scheme: str) -> str | None:
    """The origin this request was addressed to, as a browser would write it."""
    host = headers.get("x-forwarded-host") or headers.get("host")
    if not host:
        return None
    proto = headers.get("x-forwarded-proto", scheme)
    host = host.split(",")[0].strip()
    proto = proto.split(",")[0].strip()
    default_port = {"http": ":80", "https": ":443"}.get(proto)
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return f"{proto}://{host}"


@dataclass(frozen=True)
class CorsPolicy:
    allowed_origins: Sequence[str]

    def allows(self, origin: str, request_origin: str | None) -> bool:
        if origin == request_origin or "*" in self.allowed_origins:
            return True
        for allowed in self.allowed_origins:
            if origin == allowed:
                return True
            if allowed.endswith(":*") and origin.startswith(allowed[:-1]):
                port = origin[len(allowed) - 1 :]
                if port.isdigit():
                    return True
        return False

    def preflight_headers(self, origin: str) -> dict[str, str]:
        return {
            "access-control-allow-origin": origin,
            "access-control-allow-methods": ALLOW_METHODS,
            "access-control-allow-headers": ALLOW_HEADERS,
            "access-control-expose-headers": EXPOSE_HEADERS,
            "access-control-max-age": MAX_AGE,
            "vary": "Origin",
        }

    def response_headers(self, origin: str) -> dict[str, str]:
        return {
            "access-control-allow-origin": origin,
            "access-control-expose-headers": EXPOSE_HEADERS,
            "vary": "Origin",
        }
