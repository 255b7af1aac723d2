"""Command line: flags override the environment's settings."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mcp_oauth_gateway_core.commandline import add_version, given, load_settings, serve
from mcp_oauth_gateway_core.logs import configure_logging

from mcp_fetch_streamablehttp_server.config import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-fetch-streamablehttp-server",
        description="MCP fetch tool over StreamableHTTP (at /mcp), with SSRF defences.",
    )
    add_version(parser, "mcp-fetch-streamablehttp-server")
    parser.add_argument("--host", help="interface to bind (MCP_FETCH_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (MCP_FETCH_PORT, default 3000)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-file", help="also log to this file (LOG_FILE)")
    parser.add_argument(
        "--allowed-hosts", help="comma-separated hosts to allow (MCP_FETCH_ALLOWED_HOSTS)"
    )
    parser.add_argument(
        "--allowed-networks",
        help="comma-separated CIDRs to allow (MCP_FETCH_ALLOWED_NETWORKS)",
    )
    parser.add_argument("--ignore-robots", action="store_true", help="do not honour robots.txt")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    from mcp_fetch_streamablehttp_server.server import create_app

    parser = build_parser()
    args = parser.parse_args(argv)
    values = given(args, leave_out=("ignore_robots",))
    if args.ignore_robots:
        values["respect_robots"] = False
    settings = load_settings(parser, Settings, values)
    configure_logging(settings.log_level, settings.log_file)
    serve(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )
