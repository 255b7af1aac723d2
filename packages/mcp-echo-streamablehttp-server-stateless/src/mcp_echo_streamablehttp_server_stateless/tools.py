"""The nine diagnostic tools, written once and shared with the stateful server.

Each tool reads the HTTP request it was called with from the SDK's request
context, never from shared state, so concurrent calls cannot see each other's
headers. They are coroutines: none of them blocks, and a plain function would
cost a hop to a worker thread on every call.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import psutil
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_oauth_gateway_core.cors import (
    ALLOW_HEADERS,
    ALLOW_METHODS,
    EXPOSE_HEADERS,
    CorsPolicy,
    own_origin,
)
from mcp_types import INVALID_PARAMS
from pydantic import Field
from starlette.requests import Request

from mcp_echo_streamablehttp_server_stateless import __version__
from mcp_echo_streamablehttp_server_stateless.bearer import TokenNotDecodable, bearer_token, peek
from mcp_echo_streamablehttp_server_stateless.config import Settings
from mcp_echo_streamablehttp_server_stateless.http_guards import RECEIVED_AT
from mcp_echo_streamablehttp_server_stateless.redaction import (
    SECRET_HEADERS,
    is_secret_name,
    mask,
)
from mcp_echo_streamablehttp_server_stateless.system import (
    host_figures,
    human_duration,
    process_figures,
)

IDENTITY_HEADERS = ("x-user-id", "x-user-name", "x-client-id", "x-scopes")

EchoHook = Callable[[Context, str], None]


@dataclass
class Diagnostics:
    """What the tools need to know about the server they run in."""

    settings: Settings
    server_name: str
    mode: str  # "stateless" | "stateful"
    started_at: float = field(default_factory=time.time)
    process: psutil.Process = field(default_factory=psutil.Process)


def request_of(ctx: Context) -> Request | None:
    request = ctx.request_context.request
    return request if isinstance(request, Request) else None


def headers_of(ctx: Context) -> Mapping[str, str]:
    request = request_of(ctx)
    return request.headers if request is not None else {}


def _lines(title: str, rows: Mapping[str, object]) -> str:
    width = max((len(k) for k in rows), default=0)
    body = "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows.items())
    return f"{title}\n{body}" if rows else f"{title}\n  (none)"


def _when(epoch: object) -> str:
    if not isinstance(epoch, int | float):
        return repr(epoch)
    stamp = dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="seconds")
    delta = epoch - time.time()
    relative = f"in {human_duration(delta)}" if delta >= 0 else f"{human_duration(-delta)} ago"
    return f"{epoch} ({stamp}, {relative})"


def register_diagnostic_tools(
    server: MCPServer, diag: Diagnostics, on_echo: EchoHook | None = None
) -> None:
    cors = CorsPolicy(diag.settings.allowed_origins)

    @server.tool(name="echo", description="Echo a message back unchanged.")
    async def echo(
        message: Annotated[str, Field(description="The text to send back")],
        ctx: Context,
    ) -> str:
        if on_echo is not None:
            on_echo(ctx, message)
        return message

    @server.tool(
        name="printHeader",
        description=(
            "Show the HTTP headers this request arrived with, or one of them. "
            "Credentials are masked unless that header is asked for by name."
        ),
    )
    async def print_header(
        ctx: Context,
        header_name: Annotated[
            str | None, Field(description="A header name (case-insensitive); omit for all")
        ] = None,
    ) -> str:
        headers = headers_of(ctx)
        if header_name:
            value = headers.get(header_name.lower())
            if value is None:
                return f"Header {header_name!r} was not present in this request."
            return f"{header_name}: {value}"
        rows = {
            name: mask(value) if name in SECRET_HEADERS else value
            for name, value in sorted(headers.items())
        }
        return _lines(f"HTTP headers of this request ({len(rows)}):", rows)

    @server.tool(
        name="bearerDecode",
        description=(
            "Decode the bearer JWT of this request (header and claims) WITHOUT verifying "
            "its signature: for debugging what the gateway issued."
        ),
    )
    async def bearer_decode(
        ctx: Context,
        includeRaw: Annotated[bool, Field(description="Also show the raw token")] = False,
    ) -> str:
        token = bearer_token(headers_of(ctx))
        if token is None:
            return "No bearer token: this request had no 'Authorization: Bearer ...' header."
        try:
            peeked = peek(token)
        except TokenNotDecodable as exc:
            return f"The bearer token could not be decoded: {exc}."
        claims: dict[str, Any] = dict(peeked.claims)
        notes: dict[str, object] = {
            k: _when(claims[k]) for k in ("iat", "nbf", "exp") if k in claims
        }
        parts = [
            "NOT VERIFIED: decoded only; the signature was not checked here "
            "(the gateway checks it before a request gets this far).",
            "Header:\n" + json.dumps(peeked.header, indent=2, sort_keys=True),
            "Claims:\n" + json.dumps(claims, indent=2, sort_keys=True, default=str),
        ]
        if notes:
            parts.append(_lines("Times:", notes))
        parts.append(f"Signature: {peeked.signature_bytes} bytes")
        if includeRaw:
            parts.append(f"Raw token:\n{token}")
        return "\n\n".join(parts)

    @server.tool(
        name="authContext",
        description="Show the identity the gateway passed to this server (X-User-* headers).",
    )
    async def auth_context(ctx: Context) -> str:
        headers = headers_of(ctx)
        rows: dict[str, object] = {name: headers.get(name, "(absent)") for name in IDENTITY_HEADERS}
        token = bearer_token(headers)
        rows["bearer token"] = "present" if token else "absent"
        if token:
            try:
                claims = peek(token).claims
                rows["token sub"] = claims.get("sub", "(none)")
                rows["token client_id"] = claims.get("client_id", "(none)")
                rows["token aud"] = claims.get("aud", "(none)")
            except TokenNotDecodable:
                rows["token claims"] = "(not a decodable JWT)"
        verdict = (
            "Authenticated by the gateway."
            if headers.get("x-user-id")
            else "No gateway identity: this request did not pass ForwardAuth "
            "(called directly, or the gateway is not configured to pass X-User-*)."
        )
        return _lines("Auth context:", rows) + f"\n\n{verdict}"

    @server.tool(
        name="requestTiming",
        description="Server-side timing of this call, uptime and process figures.",
    )
    async def request_timing(ctx: Context) -> str:
        now = time.perf_counter()
        request = request_of(ctx)
        received = request.scope.get("state", {}).get(RECEIVED_AT) if request else None
        figures = process_figures(diag.process)
        rows: dict[str, object] = {}
        if received is not None:
            perf, wall = received
            rows["received at"] = dt.datetime.fromtimestamp(wall, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            )
            rows["in server so far"] = f"{(now - perf) * 1000:.3f} ms"
        rows["server uptime"] = human_duration(time.time() - diag.started_at)
        rows["process rss"] = f"{figures.rss_mb:.1f} MB"
        rows["process cpu"] = f"{figures.cpu_percent:.1f} %"
        rows["threads"] = figures.threads
        rows["open files"] = figures.open_files
        rows["connections"] = figures.connections
        return _lines("Request timing:", rows)

    @server.tool(
        name="corsAnalysis",
        description="Show the Origin and CORS request headers and what this server answers.",
    )
    async def cors_analysis(ctx: Context) -> str:
        headers = headers_of(ctx)
        request = request_of(ctx)
        scheme = request.url.scheme if request else "http"
        origin = headers.get("origin")
        request_origin = own_origin(headers, scheme)
        rows: dict[str, object] = {
            "Origin": origin or "(absent: not a browser cross-origin request)",
            "this server's origin": request_origin or "(unknown)",
            "Access-Control-Request-Method": headers.get(
                "access-control-request-method", "(absent)"
            ),
            "Access-Control-Request-Headers": headers.get(
                "access-control-request-headers", "(absent)"
            ),
            "configured allowed origins": ", ".join(diag.settings.allowed_origins) or "(none)",
        }
        if origin is None:
            verdict = "No Origin header: CORS does not apply; the request is allowed."
        elif cors.allows(origin, request_origin):
            answer = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS,
                "Access-Control-Expose-Headers": EXPOSE_HEADERS,
            }
            verdict = "Origin allowed. This server answers:\n" + "\n".join(
                f"  {k}: {v}" for k, v in answer.items()
            )
        else:
            verdict = "Origin NOT allowed: this server answers 403 (DNS-rebinding protection)."
        return _lines("CORS analysis:", rows) + f"\n\n{verdict}"

    @server.tool(
        name="environmentDump",
        description=(
            "Show this server's configuration and environment, secrets masked by name. "
            "showSecrets reveals them only if the operator enabled MCP_ECHO_ALLOW_SECRET_REVEAL."
        ),
    )
    async def environment_dump(
        showSecrets: Annotated[
            bool, Field(description="Reveal secret values (needs operator consent)")
        ] = False,
    ) -> str:
        reveal = showSecrets and diag.settings.allow_secret_reveal
        config = {k: str(v) for k, v in diag.settings.model_dump().items()}
        env = {
            name: (value if reveal or not is_secret_name(name) else mask(value))
            for name, value in sorted(os.environ.items())
        }
        runtime = {
            "server": f"{diag.server_name} {__version__} ({diag.mode})",
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "pid": os.getpid(),
            "cwd": str(Path.cwd()),
        }
        note = (
            "Secrets are shown in full (MCP_ECHO_ALLOW_SECRET_REVEAL is on)."
            if reveal
            else "Secret-looking values are masked"
            + (
                "; showSecrets was ignored because MCP_ECHO_ALLOW_SECRET_REVEAL is off."
                if showSecrets
                else "."
            )
        )
        return "\n\n".join(
            [
                _lines("Runtime:", runtime),
                _lines("Configuration:", config),
                _lines(f"Environment ({len(env)} variables):", env),
                note,
            ]
        )

    @server.tool(
        name="healthProbe",
        description="Host and process health: CPU, memory, disk, process and uptime.",
    )
    async def health_probe() -> str:
        host = host_figures()
        proc = process_figures(diag.process)
        worst = max(host.memory_percent, host.disk_percent)
        status = "HEALTHY" if worst < 90 else "DEGRADED"
        rows = {
            "status": status,
            **{f"host {k}": v for k, v in _rounded(asdict(host)).items()},
            **{f"process {k}": v for k, v in _rounded(asdict(proc)).items()},
            "server uptime": human_duration(time.time() - diag.started_at),
            "host uptime": human_duration(host.boot_seconds_ago),
        }
        return _lines("Health probe:", rows)

    @server.tool(name="whoIStheGOAT", description="A harmless easter egg.")
    async def who_is_the_goat(ctx: Context) -> str:
        name = headers_of(ctx).get("x-user-name")
        who = name or "whoever keeps their tokens short-lived and their scopes narrow"
        return (
            "        _))\n"
            "       > *\\     _~\n"
            "       `;'\\\\__-' \\_\n"
            "          | )  _ \\ \\\n"
            "         / / ``   w w\n"
            "        w w\n\n"
            f"The Greatest Of All Time, by this server's reckoning: {who}."
        )


def _rounded(values: Mapping[str, object]) -> dict[str, object]:
    def one(v: object) -> object:
        if isinstance(v, float):
            return round(v, 2)
        if isinstance(v, tuple):
            return ", ".join(str(one(x)) for x in v)
        return v

    return {k: one(v) for k, v in values.items()}


def refuse_unknown_tools(server: MCPServer) -> None:
    """Answer tools/call for a tool that does not exist with JSON-RPC -32602, as the spec says.

    (The SDK would answer with a tool result flagged isError, which reads to a
    client like a tool that ran and failed.)
    """
    known: set[str] = set()

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call":
            if not known:
                known.update(tool.name for tool in await server.list_tools())
            name = (ctx.params or {}).get("name")
            if name not in known:
                raise MCPError(
                    code=INVALID_PARAMS,
                    message=f"Unknown tool: {name!r}; available: {', '.join(sorted(known))}",
                )
        return await call_next(ctx)

    server.middleware.append(middleware)
