"""Settings from the environment (and `.env`); CLI flags override them."""

from __future__ import annotations

from mcp_oauth_gateway_core.settings import CommaList, LogLevel, split_commas
from mcp_types.version import KNOWN_PROTOCOL_VERSIONS
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MCP_ECHO_", env_file=".env", extra="ignore", populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = 3000
    # LOG_LEVEL / LOG_FILE are shared by every service; MCP_ECHO_LOG_* override them.
    log_level: LogLevel = Field(
        "INFO", validation_alias=AliasChoices("MCP_ECHO_LOG_LEVEL", "LOG_LEVEL", "log_level")
    )
    log_file: str = Field(
        "", validation_alias=AliasChoices("MCP_ECHO_LOG_FILE", "LOG_FILE", "log_file")
    )
    # Protocol versions accepted in the MCP-Protocol-Version header (default: all the SDK knows).
    protocol_versions: CommaList = list(KNOWN_PROTOCOL_VERSIONS)
    # Browser origins allowed besides the server's own origin; "*" allows any.
    allowed_origins: CommaList = []
    # Largest accepted request body, in bytes.
    max_body_bytes: int = 1_048_576
    # Let environmentDump(showSecrets=true) reveal secret values (off: they stay masked).
    allow_secret_reveal: bool = False

    @field_validator("protocol_versions", "allowed_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("protocol_versions")
    @classmethod
    def _known_versions(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in KNOWN_PROTOCOL_VERSIONS]
        if unknown:
            raise ValueError(
                f"unknown protocol versions {unknown}; known: {', '.join(KNOWN_PROTOCOL_VERSIONS)}"
            )
        if not value:
            raise ValueError("at least one protocol version must be accepted")
        return value
