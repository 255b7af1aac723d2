"""Command line: flags override the environment's settings."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import uvicorn

from mcp_fetch_streamablehttp_server.config import Settings


def main(argv: Sequence[str] | None = None) -> None:
    from mcp_fetch_streamablehttp_server.server import create_app

    parser = argparse.ArgumentParser(
        prog="mcp-fetch-streamablehttp-server",
        description="MCP fetch tool over StreamableHTTP (at /mcp), with SSRF defences.",
    )
    parser.add_argument("--host", help="interface to bind (MCP_FETCH_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (MCP_FETCH_PORT, default 3000)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--allowed-hosts", help="comma-separated hosts to allow (MCP_FETCH_ALLOWED_HOSTS)"
    )
    parser.add_argument(
        "--allowed-networks",
        help="comma-separated CIDRs to allow (MCP_FETCH_ALLOWED_NETWORKS)",
    )
    parser.add_argument("--ignore-robots", action="store_true", help="do not honour robots.txt")
    args = parser.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None and k != "ignore_robots"}
    if args.ignore_robots:
        given["respect_robots"] = False
    settings = Settings(**given)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if settings.log_file:
        handlers.append(logging.FileHandler(settings.log_file))
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    if settings.log_level != "DEBUG":
        logging.getLogger("mcp").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level == "DEBUG",
    )
