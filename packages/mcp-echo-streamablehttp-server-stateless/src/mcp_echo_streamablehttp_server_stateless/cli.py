"""Command line: flags override the environment's settings."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mcp_oauth_gateway_core import commandline
from mcp_oauth_gateway_core.logs import configure_logging

from mcp_echo_streamablehttp_server_stateless.config import Settings

S = TypeVar("S", bound=Settings)


def common_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The flags both echo servers take; `prog` is also the distribution named by --version."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commandline.add_version(parser, prog)
    parser.add_argument("--host", help="interface to bind (MCP_ECHO_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (MCP_ECHO_PORT, default 3000)")
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="LOG_LEVEL, default INFO",
    )
    parser.add_argument("--log-file", help="also log to this file (LOG_FILE)")
    parser.add_argument(
        "--allowed-origins",
        help="comma-separated browser origins allowed besides the server's own "
        "(MCP_ECHO_ALLOWED_ORIGINS)",
    )
    parser.add_argument(
        "--protocol-versions",
        help="comma-separated MCP protocol versions to accept (MCP_ECHO_PROTOCOL_VERSIONS)",
    )
    return parser


def serve(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    settings_class: type[S],
    app_factory: Callable[[S], Any],
) -> None:
    """Settings from the environment with the given flags over them, then serve."""
    values = commandline.given(parser.parse_args(argv))
    settings = commandline.load_settings(parser, settings_class, values)
    configure_logging(settings.log_level, settings.log_file)
    commandline.serve(
        app_factory(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )


def main(argv: Sequence[str] | None = None) -> None:
    from mcp_echo_streamablehttp_server_stateless.server import create_app

    parser = common_parser(
        "mcp-echo-streamablehttp-server-stateless",
        "Stateless MCP diagnostic server (StreamableHTTP at /mcp).",
    )
    serve(parser, argv, Settings, create_app)
