"""Command line: the stateless server's flags plus the session limits."""

from __future__ import annotations

from collections.abc import Sequence

from mcp_echo_streamablehttp_server_stateless.cli import common_parser, serve

from mcp_echo_streamablehttp_server_stateful.config import Settings


def main(argv: Sequence[str] | None = None) -> None:
    from mcp_echo_streamablehttp_server_stateful.server import create_app

    parser = common_parser(
        "mcp-echo-streamablehttp-server-stateful",
        "Stateful MCP diagnostic server (StreamableHTTP at /mcp, sessions).",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        help="seconds idle before a session ends (MCP_ECHO_SESSION_TIMEOUT, default 1800)",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        help="most live sessions (MCP_ECHO_MAX_SESSIONS, default 1000)",
    )
    serve(parser, argv, Settings, create_app)
