"""Command line: `mcp-streamablehttp-proxy [options] -- <command> [args...]`; flags override the
environment's settings."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from mcp_oauth_gateway_core.commandline import add_version, given, load_settings
from mcp_oauth_gateway_core.logs import configure_logging

from mcp_streamablehttp_proxy.config import Settings, parse_env_pairs
from mcp_streamablehttp_proxy.server import ProxyApp, create_app


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-streamablehttp-proxy",
        description="Serve a stdio MCP server over StreamableHTTP at /mcp: one child process "
        "per MCP session (2024-11-05 ... 2025-11-25), and a pool of children for "
        "per-request calls (2026-07-28).",
        epilog="example: mcp-streamablehttp-proxy --port 3000 -- python -m mcp_server_fetch",
    )
    add_version(parser, "mcp-streamablehttp-proxy")
    parser.add_argument("--host", help="interface to bind (MCP_PROXY_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (MCP_PROXY_PORT, default 3000)")
    parser.add_argument(
        "--session-timeout",
        type=float,
        help="idle seconds before a session and its child end (MCP_PROXY_SESSION_TIMEOUT)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        help="seconds a request may wait for the child's answer (MCP_PROXY_REQUEST_TIMEOUT)",
    )
    parser.add_argument(
        "--max-sessions", type=int, help="most sessions at once (MCP_PROXY_MAX_SESSIONS)"
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        help="largest message either way (MCP_PROXY_MAX_MESSAGE_BYTES)",
    )
    parser.add_argument(
        "--kill-grace", type=float, help="seconds from SIGTERM to SIGKILL (MCP_PROXY_KILL_GRACE)"
    )
    parser.add_argument(
        "--env",
        action="append",
        metavar="K=V",
        help="environment variable for the child; repeatable (MCP_PROXY_ENV)",
    )
    parser.add_argument("--cwd", help="working directory of the child (MCP_PROXY_CWD)")
    parser.add_argument(
        "--allowed-origins",
        help="comma-separated browser origins allowed besides the proxy's own",
    )
    parser.add_argument(
        "--modern-protocol-versions",
        help="per-request revisions served from the pool, comma-separated; empty turns the "
        "pool off (MCP_PROXY_MODERN_PROTOCOL_VERSIONS, default 2026-07-28)",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        help="most pool children at once (MCP_PROXY_POOL_SIZE, default 4)",
    )
    parser.add_argument(
        "--pool-warm",
        type=int,
        help="pool children started with the proxy and kept ready (MCP_PROXY_POOL_WARM, default 0)",
    )
    parser.add_argument(
        "--pool-max-requests",
        type=int,
        help="retire a pool child after this many requests, 0 = never "
        "(MCP_PROXY_POOL_MAX_REQUESTS, default 10000)",
    )
    parser.add_argument(
        "--pool-max-age",
        type=float,
        help="retire a pool child after this many seconds, 0 = never "
        "(MCP_PROXY_POOL_MAX_AGE, default 3600)",
    )
    parser.add_argument(
        "--pool-idle-timeout",
        type=float,
        help="end an unused pool child beyond --pool-warm after this many seconds, 0 = never "
        "(MCP_PROXY_POOL_IDLE_TIMEOUT, default 300)",
    )
    parser.add_argument(
        "--pool-client-capabilities",
        help="client capabilities declared to pool children, whose requests of that kind "
        "reach 2026-07-28 clients as input_required rounds; comma-separated, empty = none "
        "(MCP_PROXY_POOL_CLIENT_CAPABILITIES, default sampling,elicitation,roots)",
    )
    parser.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="LOG_LEVEL"
    )
    parser.add_argument("--log-file", help="also log to this file (LOG_FILE)")
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, help="the stdio MCP server (MCP_PROXY_COMMAND)"
    )
    return parser


def settings_from(argv: Sequence[str] | None) -> Settings:
    parser = build_parser()
    args = parser.parse_args(argv)
    values: dict[str, Any] = given(args, leave_out=("command", "env"))
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if command:
        values["command"] = command
    if args.env:
        try:
            values["env"] = parse_env_pairs(args.env)
        except ValueError as exc:
            parser.error(str(exc))
    settings = load_settings(parser, Settings, values)
    if not settings.command:
        parser.error("no MCP server command given: add `-- <command> [args...]`")
    problem = command_problem(settings)
    if problem:
        parser.exit(2, f"mcp-streamablehttp-proxy: {problem}\n")
    return settings


def command_problem(settings: Settings) -> str | None:
    """Fail at start-up, not at the first initialize, when the command cannot run."""
    if settings.cwd and not Path(settings.cwd).is_dir():
        return f"working directory {settings.cwd!r} does not exist"
    program = settings.command[0]
    path = {**os.environ, **settings.env}.get("PATH")
    if os.sep in program:
        resolved = Path(settings.cwd) / program if settings.cwd else Path(program)
        if not os.access(resolved, os.X_OK) or resolved.is_dir():
            return f"command {program!r} does not exist or is not executable"
        return None
    if shutil.which(program, path=path) is None:
        return f"command {program!r} not found on PATH"
    return None


class _ProxyServer(uvicorn.Server):
    """On SIGTERM/SIGINT, end the children first: open streams then close at once."""

    def __init__(self, config: uvicorn.Config, app: ProxyApp) -> None:
        super().__init__(config)
        self.proxy_app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.proxy_app.end_children_threadsafe()


def main(argv: Sequence[str] | None = None) -> None:
    settings = settings_from(argv if argv is not None else sys.argv[1:])
    configure_logging(settings.log_level, settings.log_file)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level == "DEBUG",
        timeout_graceful_shutdown=int(settings.kill_grace) + 1,
    )
    _ProxyServer(config, app).run()
