"""One-shot commands: sign in, token status, listings, a tool call, registration chores.

Each returns an exit code and prints with rich; failures raise `CommandError`
with a message meant for a person, never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shlex
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import httpx2
from mcp import Client
from mcp.client.auth import OAuthFlowError, OAuthRegistrationError
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.message import ClientMessageMetadata
from mcp_types import JSONRPCRequest
from rich.console import Console
from rich.json import JSON
from rich.table import Table

from mcp_streamablehttp_client import __version__, registration
from mcp_streamablehttp_client.auth import GatewayAuth, LoginRequired
from mcp_streamablehttp_client.config import Settings
from mcp_streamablehttp_client.eras import discover_message
from mcp_streamablehttp_client.storage import LockTimeout

# Answers a probe may come as: headers are all it reads.
PROBE_ACCEPT = "application/json, text/event-stream"
HANDSHAKE_VERSION = "2025-11-25"


class CommandError(Exception):
    pass


def _auth_problem(auth: GatewayAuth, url: str, exc: Exception) -> CommandError:
    context = auth.context
    if context.oauth_metadata is None and context.protected_resource_metadata is None:
        return CommandError(
            f"{url} asks for authorization (HTTP 401) but publishes no OAuth metadata "
            f"(RFC 9728 protected resource metadata or RFC 8414 server metadata): {exc}"
        )
    if isinstance(exc, OAuthRegistrationError):
        return CommandError(f"The authorization server refused to register this client: {exc}")
    return CommandError(f"Signing in to {url} failed: {exc}")


def probe_message(settings: Settings) -> tuple[bytes, dict[str, str]]:
    """The first POST the protocol starts with: `server/discover` (2026-07-28), or in the
    handshake era `initialize`. A server that serves only POST (or answers GET with 404)
    must be reachable, so no command opens with a GET."""
    intro = JSONRPCRequest(
        jsonrpc="2.0",
        id=1,
        method="initialize",
        params={
            "protocolVersion": HANDSHAKE_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-streamablehttp-client", "version": __version__},
        },
    )
    headers = {"Accept": PROBE_ACCEPT, "Content-Type": "application/json"}
    if settings.protocol == "handshake":
        message, extra = intro, {MCP_PROTOCOL_VERSION_HEADER: HANDSHAKE_VERSION}
    else:
        discover = discover_message(intro)
        metadata = discover.metadata
        assert isinstance(metadata, ClientMessageMetadata)
        assert isinstance(discover.message, JSONRPCRequest)
        message, extra = discover.message, dict(metadata.headers or {})
    body = message.model_dump_json(by_alias=True, exclude_none=True).encode()
    return body, {**headers, **extra}


async def probe(auth: GatewayAuth, settings: Settings) -> int:
    """One authenticated POST: signs in or refreshes as needed; returns the HTTP status.

    A session the handshake-era probe opened is ended at once (DELETE)."""
    url = settings.server_url
    body, headers = probe_message(settings)
    try:
        async with httpx2.AsyncClient(auth=auth, timeout=settings.http_timeout) as http:
            async with http.stream("POST", url, content=body, headers=headers) as response:
                pass  # an event stream may stay open: the status is all a probe needs
            opened = response.headers.get("mcp-session-id")
            if opened:
                with contextlib.suppress(httpx2.HTTPError):
                    await http.delete(
                        url,
                        headers={
                            "Mcp-Session-Id": opened,
                            MCP_PROTOCOL_VERSION_HEADER: HANDSHAKE_VERSION,
                        },
                    )
    except LoginRequired as exc:
        raise CommandError(str(exc)) from None
    except LockTimeout as exc:
        raise CommandError(f"Could not sign in: {exc}") from None
    except OAuthFlowError as exc:
        raise _auth_problem(auth, url, exc) from None
    except (httpx2.UnsupportedProtocol, httpx2.InvalidURL) as exc:
        raise CommandError(f"Bad server URL {url!r}: {exc}") from None
    except httpx2.TimeoutException:
        raise CommandError(f"{url} did not answer within {settings.http_timeout:.0f} s") from None
    except httpx2.TransportError as exc:
        raise CommandError(f"Cannot reach {url}: {exc or type(exc).__name__}") from None
    if response.status_code == 401:
        raise CommandError(f"{url} still refuses the token after signing in (HTTP 401)")
    if response.status_code == 403:
        raise CommandError(f"{url} refuses access (HTTP 403): the token lacks a needed scope")
    if response.status_code in (404, 405):
        raise CommandError(f"No MCP endpoint at {url} (HTTP {response.status_code} to a POST)")
    if response.status_code >= 500:
        raise CommandError(f"{url} failed (HTTP {response.status_code})")
    return response.status_code


@contextlib.asynccontextmanager
async def session(auth: GatewayAuth, settings: Settings) -> AsyncIterator[Client]:
    await probe(auth, settings)
    timeout = httpx2.Timeout(settings.http_timeout, read=max(settings.http_timeout, 300.0))
    try:
        async with (
            httpx2.AsyncClient(auth=auth, timeout=timeout) as http,
            Client(
                streamable_http_client(settings.server_url, http_client=http),
                mode="auto" if settings.protocol == "auto" else "legacy",
            ) as client,
        ):
            yield client
    except Exception as exc:
        leaf = _leaf(exc)
        if isinstance(leaf, CommandError):
            raise leaf from None
        reason = f"{type(leaf).__name__}: {leaf}"
        raise CommandError(f"MCP session with {settings.server_url} failed: {reason}") from None


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


# --- commands ------------------------------------------------------------------------


async def login(auth: GatewayAuth, settings: Settings, console: Console) -> int:
    await probe(auth, settings)
    if auth.token_state()[0] is None:  # the server answered without asking for a token
        console.print(f"{settings.server_url} needs no sign-in: nothing to do")
        return 0
    console.print(f"[green]Signed in[/green] to {settings.server_url}")
    return await show_token(auth, settings, console, refresh=False)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "unknown"
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    left = timestamp - time.time()
    if left >= 0:
        return f"{moment} (in {left:.0f} s)"
    return f"{moment} (expired {-left:.0f} s ago)"


async def show_token(
    auth: GatewayAuth, settings: Settings, console: Console, *, refresh: bool
) -> int:
    await auth.load()
    tokens, expires_at = auth.token_state()
    if tokens is None:
        raise CommandError(str(LoginRequired(settings.server_url)))
    expired = expires_at is not None and expires_at <= time.time()
    if refresh or expired:
        if not await auth.force_refresh():
            raise CommandError(f"Refreshing the token failed: {LoginRequired(settings.server_url)}")
        console.print("[green]Token refreshed[/green]")
        tokens, expires_at = auth.token_state()
        assert tokens is not None
    table = Table(title=f"Token for {settings.server_url}", show_header=False)
    table.add_row("access token", tokens.access_token[:12] + "…")
    table.add_row("scope", tokens.scope or "")
    table.add_row("expires", _when(expires_at))
    table.add_row("refresh token", "yes" if tokens.refresh_token else "no")
    table.add_row("stored in", str(settings.credentials_path))
    console.print(table)
    return 0


async def list_items(auth: GatewayAuth, settings: Settings, console: Console, kind: str) -> int:
    async with session(auth, settings) as client:
        if kind == "tools":
            tools = (await client.list_tools()).tools
            rows = [(t.name, t.description or "") for t in tools]
        elif kind == "resources":
            resources = (await client.list_resources()).resources
            rows = [(str(r.uri), r.name or r.description or "") for r in resources]
        else:
            prompts = (await client.list_prompts()).prompts
            rows = [(p.name, p.description or "") for p in prompts]
    table = Table(title=f"{kind.capitalize()} at {settings.server_url}")
    table.add_column("name" if kind != "resources" else "uri", style="bold")
    table.add_column("description")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if not rows:
        console.print(f"(no {kind})")
    return 0


def parse_call(command: str, schema: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """`tool_name key=value ...` or `tool_name {"json": "arguments"}`.

    A value is kept as text when the tool's schema says string, else read as JSON if it parses.
    """
    name, _, rest = command.strip().partition(" ")
    if not name:
        raise CommandError("No tool name given to -c")
    if rest.strip().startswith("{"):
        try:
            arguments = json.loads(rest)
        except ValueError as exc:
            raise CommandError(f"The JSON arguments do not parse: {exc}") from None
        if not isinstance(arguments, dict):
            raise CommandError("JSON arguments must be an object")
        return name, arguments
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise CommandError(f"Cannot parse the call {command!r}: {exc}") from None
    return name, {key: value for key, value in (_argument(w, schema) for w in words)}


def _argument(word: str, schema: dict[str, Any] | None) -> tuple[str, Any]:
    key, sep, raw = word.partition("=")
    if not sep or not key:
        raise CommandError(f"Argument {word!r} is not of the form key=value")
    properties = (schema or {}).get("properties", {})
    if properties.get(key, {}).get("type") == "string":
        return key, raw
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


async def call(auth: GatewayAuth, settings: Settings, console: Console, command: str) -> int:
    async with session(auth, settings) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        name = command.strip().partition(" ")[0]
        if name not in tools:
            known = ", ".join(sorted(tools)) or "none"
            raise CommandError(f"No tool {name!r} at {settings.server_url} (tools: {known})")
        name, arguments = parse_call(command, tools[name].input_schema)
        result = await client.call_tool(name, arguments)
    content = getattr(result, "content", []) or []
    for part in content:
        if getattr(part, "type", "") == "text":
            text = part.text
            try:
                console.print(JSON(text))
            except ValueError:
                console.print(text, markup=False, highlight=False)
        else:
            console.print(JSON(json.dumps(part.model_dump(mode="json", exclude_none=True))))
    structured = getattr(result, "structured_content", None)
    if structured is not None and not content:
        console.print(JSON(json.dumps(structured)))
    if getattr(result, "is_error", False):
        console.print(f"[red]Tool {name} reported an error[/red]")
        return 1
    return 0


async def client_info(auth: GatewayAuth, settings: Settings, console: Console) -> int:
    async with httpx2.AsyncClient(timeout=settings.http_timeout) as http:
        try:
            data = await registration.read(auth.credentials, http)
        except httpx2.HTTPError as exc:
            raise CommandError(f"Cannot reach the registration endpoint: {exc}") from None
    console.print(JSON(json.dumps({k: v for k, v in data.items() if k != "client_secret"})))
    return 0


async def update_client(
    auth: GatewayAuth, settings: Settings, console: Console, assignments: list[str]
) -> int:
    changes = dict(registration.parse_assignment(item) for item in assignments)
    async with httpx2.AsyncClient(timeout=settings.http_timeout) as http:
        try:
            data = await registration.update(auth.credentials, http, changes)
        except httpx2.HTTPError as exc:
            raise CommandError(f"Cannot reach the registration endpoint: {exc}") from None
    console.print("[green]Registration updated[/green]")
    console.print(JSON(json.dumps({k: v for k, v in data.items() if k != "client_secret"})))
    return 0


async def delete_client(auth: GatewayAuth, settings: Settings, console: Console) -> int:
    async with httpx2.AsyncClient(timeout=settings.http_timeout) as http:
        try:
            await registration.delete(auth.credentials, http)
        except httpx2.HTTPError as exc:
            raise CommandError(f"Cannot reach the registration endpoint: {exc}") from None
    console.print(
        "[green]Registration deleted[/green]; its tokens are forgotten. "
        "The next sign-in registers again."
    )
    return 0


def reset_auth(auth: GatewayAuth, settings: Settings, console: Console) -> int:
    auth.credentials.forget_client()
    console.print(f"Forgot the tokens and registration for {settings.server_url}")
    return 0


def claude_config(settings: Settings, console: Console, name: str | None) -> int:
    path = urlparse(settings.server_url).path.strip("/").split("/")
    default = path[-2] if len(path) >= 2 and path[-1] == "mcp" else (path[-1] or "gateway")
    entry: dict[str, Any] = {
        "command": "mcp-streamablehttp-client",
        "args": ["--server-url", settings.server_url],
    }
    if settings.credentials_file:
        entry["env"] = {"MCP_CLIENT_CREDENTIALS_FILE": settings.credentials_file}
    console.print_json(json.dumps({"mcpServers": {name or default: entry}}))
    return 0
