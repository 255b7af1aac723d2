"""One logging set-up: level from settings, stderr plus an optional file."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str, log_file: str = "") -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    # The SDK logs a line per stateless request at INFO: noise unless debugging.
    if level != "DEBUG":
        logging.getLogger("mcp").setLevel(logging.WARNING)
