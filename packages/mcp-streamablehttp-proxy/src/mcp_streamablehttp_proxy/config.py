"""Settings from the environment (and `.env`); CLI flags override them."""

from __future__ import annotations

import shlex
from typing import Annotated

from mcp_oauth_gateway_core.settings import CommaList, LogLevel, split_commas
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MODERN_PROTOCOL_VERSIONS,
)
from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ShellWords = Annotated[list[str], NoDecode]
EnvPairs = Annotated[dict[str, str], NoDecode]

# What a pool child may ask a per-request client for, through input_required rounds.
POOL_CLIENT_CAPABILITIES = ("sampling", "elicitation", "roots")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MCP_PROXY_", env_file=".env", extra="ignore", populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = 3000
    log_level: LogLevel = Field(
        "INFO", validation_alias=AliasChoices("MCP_PROXY_LOG_LEVEL", "LOG_LEVEL", "log_level")
    )
    log_file: str = Field(
        "", validation_alias=AliasChoices("MCP_PROXY_LOG_FILE", "LOG_FILE", "log_file")
    )
    # The stdio server to run per session (after `--` on the command line).
    command: ShellWords = []
    # Extra environment for the child, `K=V` pairs (comma-separated in the environment).
    env: EnvPairs = {}
    # Working directory of the child (empty: the proxy's own).
    cwd: str = ""
    # Seconds without a request (and none in flight) before a session and its child end.
    session_timeout: float = 1800.0
    # Seconds a client request may wait for the child's answer.
    request_timeout: float = 300.0
    # Most sessions (children) alive at once.
    max_sessions: int = 100
    # Largest message in either direction, in bytes (request body, one line from the child).
    max_message_bytes: int = 4_194_304
    # Seconds between SIGTERM and SIGKILL when a child is ended.
    kill_grace: float = 5.0
    # Seconds between SSE keep-alive comments on idle streams.
    keepalive_interval: float = 15.0
    # Handshake-era versions accepted in the MCP-Protocol-Version header (sessions).
    protocol_versions: CommaList = list(HANDSHAKE_PROTOCOL_VERSIONS)
    # Browser origins allowed besides the proxy's own origin; "*" allows any.
    allowed_origins: CommaList = []
    # Per-request revisions (2026-07-28) served from the pool; empty turns the pool off.
    modern_protocol_versions: CommaList = list(MODERN_PROTOCOL_VERSIONS)
    # Most pool children alive at once (retiring ones included); sessions' children not counted.
    pool_size: int = 4
    # Pool children started with the proxy and kept ready; 0 starts the first on demand.
    pool_warm: int = 0
    # A pool child is retired after this many requests (0: never).
    pool_max_requests: int = 10_000
    # ...or once it is this many seconds old (0: never).
    pool_max_age: float = 3600.0
    # Seconds an unused pool child beyond `pool_warm` stays before it ends (0: never).
    pool_idle_timeout: float = 300.0
    # The handshake revision the proxy proposes when it initializes a pool child.
    pool_child_protocol_version: str = LATEST_HANDSHAKE_VERSION
    # Client capabilities the proxy declares to pool children: their requests of that kind
    # reach the 2026-07-28 client they serve as input_required rounds; empty declares none.
    pool_client_capabilities: CommaList = list(POOL_CLIENT_CAPABILITIES)

    @field_validator(
        "protocol_versions",
        "allowed_origins",
        "modern_protocol_versions",
        "pool_client_capabilities",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("command", mode="before")
    @classmethod
    def _split_words(cls, value: object) -> object:
        return shlex.split(value) if isinstance(value, str) else value

    @field_validator("env", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        if isinstance(value, str):
            value = [item for item in value.split(",") if item.strip()]
        if isinstance(value, list):
            return parse_env_pairs(value)
        return value

    @field_validator("session_timeout", "request_timeout", "kill_grace", "keepalive_interval")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than 0")
        return value

    @field_validator("max_sessions", "max_message_bytes", "pool_size")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("pool_warm", "pool_max_requests", "pool_max_age", "pool_idle_timeout")
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @field_validator("modern_protocol_versions")
    @classmethod
    def _modern_only(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in MODERN_PROTOCOL_VERSIONS]
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a per-request revision; known: "
                f"{', '.join(MODERN_PROTOCOL_VERSIONS)}"
            )
        return value

    @field_validator("protocol_versions")
    @classmethod
    def _no_modern(cls, value: list[str]) -> list[str]:
        modern = [v for v in value if v in MODERN_PROTOCOL_VERSIONS]
        if modern:
            raise ValueError(
                f"{', '.join(modern)}: a per-request revision has no sessions; it is served "
                "by the pool (MCP_PROXY_MODERN_PROTOCOL_VERSIONS), not listed here"
            )
        return value

    @field_validator("pool_child_protocol_version")
    @classmethod
    def _handshake_only(cls, value: str) -> str:
        if value not in HANDSHAKE_PROTOCOL_VERSIONS:
            raise ValueError(
                f"{value!r} is not a handshake revision; one of: "
                f"{', '.join(HANDSHAKE_PROTOCOL_VERSIONS)}"
            )
        return value

    @field_validator("pool_client_capabilities")
    @classmethod
    def _known_capabilities(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in POOL_CLIENT_CAPABILITIES]
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a client capability the proxy can relay; known: "
                f"{', '.join(POOL_CLIENT_CAPABILITIES)}"
            )
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _warm_within_size(self) -> Settings:
        if self.pool_warm > self.pool_size:
            raise ValueError(f"pool_warm ({self.pool_warm}) exceeds pool_size ({self.pool_size})")
        return self


def parse_env_pairs(items: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, val = item.strip().partition("=")
        if not sep or not key:
            raise ValueError(f"environment entry {item!r} is not of the form KEY=VALUE")
        pairs[key] = val
    return pairs
