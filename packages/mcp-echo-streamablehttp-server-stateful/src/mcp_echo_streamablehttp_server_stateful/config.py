"""The stateless server's settings plus the session limits."""

from __future__ import annotations

from mcp_echo_streamablehttp_server_stateless.config import Settings as StatelessSettings
from pydantic import Field


class Settings(StatelessSettings):
    # Seconds without a request after which a session ends (its id then gets 404).
    session_timeout: float = Field(1800.0, gt=0)
    # Most sessions alive at once; past it, initialize gets 503 with a JSON-RPC error.
    max_sessions: int = Field(1000, gt=0)
    # Echoed messages each session remembers (FIFO, oldest dropped), at most 100.
    queue_limit: int = Field(100, gt=0, le=100)
