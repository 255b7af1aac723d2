"""One logging set-up for every service: level from settings, stderr plus an optional file.

stderr, never stdout: the bridge client speaks MCP on its stdout.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log a line per request at INFO: noise unless debugging.
CHATTY = ("mcp", "httpx2")


def configure_logging(level: str, log_file: str = "", *, quiet: Iterable[str] = CHATTY) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    if level != "DEBUG":
        for name in quiet:
            logging.getLogger(name).setLevel(logging.WARNING)
