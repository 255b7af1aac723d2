"""Command line: flags override the environment's settings."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import uvicorn

from mcp_echo_streamablehttp_server_stateless.config import Settings
from mcp_echo_streamablehttp_server_stateless.logs import configure_logging

S = TypeVar("S", bound=Settings)


def common_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
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


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Only the flags that were given, as Settings field values."""
    return {k: v for k, v in vars(args).items() if v is not None}


def serve(settings: S, app_factory: Callable[[S], Any]) -> None:
    configure_logging(settings.log_level, settings.log_file)
    uvicorn.run(
        app_factory(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level == "DEBUG",
        timeout_graceful_shutdown=5,
    )


def main(argv: Sequence[str] | None = None) -> None:
    from mcp_echo_streamablehttp_server_stateless.server import create_app

    parser = common_parser(
        "mcp-echo-streamablehttp-server-stateless",
        "Stateless MCP diagnostic server (StreamableHTTP at /mcp).",
    )
    args = parser.parse_args(argv)
    serve(Settings(**overrides(args)), create_app)
