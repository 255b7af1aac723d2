"""Command line: with no command, the stdio bridge; otherwise one command and exit.

Flags override the environment and the `.env` file.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from mcp_oauth_gateway_core.commandline import add_version, describe
from mcp_oauth_gateway_core.logs import configure_logging
from pydantic import ValidationError
from rich.console import Console

from mcp_streamablehttp_client import commands
from mcp_streamablehttp_client.auth import GatewayAuth
from mcp_streamablehttp_client.bridge import run_bridge
from mcp_streamablehttp_client.config import Settings
from mcp_streamablehttp_client.registration import RegistrationError

PROG = "mcp-streamablehttp-client"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A stdio MCP server forwarding to an OAuth-protected StreamableHTTP MCP "
        "server (what a desktop client launches), and commands to sign in and try it out.",
        epilog="example: mcp-streamablehttp-client --server-url https://gw.example/echo/mcp "
        '-c "echo message=hi"',
    )
    add_version(parser, PROG)
    parser.add_argument("--server-url", help="the MCP endpoint (MCP_SERVER_URL)")
    parser.add_argument("--env-file", default=".env", help="settings file (default: ./.env)")
    parser.add_argument(
        "--credentials-file", help="where tokens are kept (MCP_CLIENT_CREDENTIALS_FILE)"
    )
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="print the sign-in URL instead of opening a browser (MCP_CLIENT_OPEN_BROWSER=false)",
    )
    parser.add_argument(
        "--browser-login",
        action="store_true",
        help="bridge: start the browser sign-in itself when not signed in "
        "(MCP_CLIENT_BROWSER_LOGIN)",
    )
    parser.add_argument(
        "--protocol",
        choices=["auto", "handshake"],
        help="auto: 2026-07-28 when the server speaks it (server/discover), else the "
        "handshake; handshake: always initialize and sessions (MCP_CLIENT_PROTOCOL)",
    )
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-file", help="also log to this file (LOG_FILE)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--login", action="store_true", help="sign in (browser) if needed")
    group.add_argument(
        "--token", action="store_true", help="token status and expiry; refreshes an expired one"
    )
    group.add_argument("--refresh", action="store_true", help="refresh the token now")
    group.add_argument(
        "-c",
        "--call",
        metavar="CALL",
        help='call a tool: "name key=value ..." or \'name {"key": "value"}\'',
    )
    group.add_argument("--list-tools", action="store_true")
    group.add_argument("--list-resources", action="store_true")
    group.add_argument("--list-prompts", action="store_true")
    group.add_argument(
        "--get-client-info", action="store_true", help="read the registration (RFC 7592)"
    )
    group.add_argument(
        "--update-client",
        nargs="+",
        metavar="KEY=VALUE",
        help="change the registration (RFC 7592), e.g. client_name=laptop",
    )
    group.add_argument(
        "--delete-client", action="store_true", help="delete the registration (RFC 7592)"
    )
    group.add_argument(
        "--reset-auth", action="store_true", help="forget this server's tokens and registration"
    )
    group.add_argument(
        "--claude-config",
        nargs="?",
        const="",
        metavar="NAME",
        help="print the Claude Desktop mcpServers entry",
    )
    return parser


def settings_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Settings:
    values: dict[str, Any] = {}
    if args.server_url is not None:
        values["server_url"] = args.server_url
    if args.credentials_file is not None:
        values["credentials_file"] = args.credentials_file
    if args.no_browser:
        values["open_browser"] = False
    if args.browser_login:
        values["browser_login"] = True
    if args.protocol:
        values["protocol"] = args.protocol
    if args.log_level:
        values["log_level"] = args.log_level
    if args.log_file:
        values["log_file"] = args.log_file
    env_file = Path(args.env_file)
    try:
        settings = Settings(_env_file=env_file if env_file.is_file() else None, **values)
    except ValidationError as exc:
        parser.exit(2, f"{PROG}: invalid settings: {describe(exc, Settings)}\n")
    if not settings.server_url:
        parser.exit(2, f"{PROG}: no server URL: pass --server-url or set MCP_SERVER_URL\n")
    return settings


async def run_command(args: argparse.Namespace, settings: Settings) -> int:
    out = Console()
    auth = GatewayAuth(settings, interactive=True)
    if args.login:
        return await commands.login(auth, settings, out)
    if args.token or args.refresh:
        return await commands.show_token(auth, settings, out, refresh=args.refresh)
    if args.call is not None:
        return await commands.call(auth, settings, out, args.call)
    for kind in ("tools", "resources", "prompts"):
        if getattr(args, f"list_{kind}"):
            return await commands.list_items(auth, settings, out, kind)
    if args.get_client_info:
        return await commands.client_info(auth, settings, out)
    if args.update_client:
        return await commands.update_client(auth, settings, out, args.update_client)
    if args.delete_client:
        return await commands.delete_client(auth, settings, out)
    if args.reset_auth:
        return commands.reset_auth(auth, settings, out)
    return commands.claude_config(settings, out, args.claude_config or None)


def is_command(args: argparse.Namespace) -> bool:
    return any(
        [
            args.login,
            args.token,
            args.refresh,
            args.call is not None,
            args.list_tools,
            args.list_resources,
            args.list_prompts,
            args.get_client_info,
            args.update_client,
            args.delete_client,
            args.reset_auth,
            args.claude_config is not None,
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = settings_from(args, parser)
    configure_logging(settings.log_level, settings.log_file)  # stderr: stdout is the wire
    try:
        if is_command(args):
            return anyio.run(run_command, args, settings)
        anyio.run(run_bridge, settings)
        return 0
    except (commands.CommandError, RegistrationError) as exc:
        Console(stderr=True).print(f"[red]Error:[/red] {exc}", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 130
