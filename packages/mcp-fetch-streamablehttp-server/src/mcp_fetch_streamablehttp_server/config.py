"""Settings from the environment (and `.env`); CLI flags override them."""

from __future__ import annotations

from mcp_oauth_gateway_core.settings import CommaList, LogLevel, split_commas
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_USER_AGENT = (
    "ModelContextProtocol/1.0 (Autonomous; +https://github.com/modelcontextprotocol/servers)"
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MCP_FETCH_", env_file=".env", extra="ignore", populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = 3000
    log_level: LogLevel = Field(
        "INFO", validation_alias=AliasChoices("MCP_FETCH_LOG_LEVEL", "LOG_LEVEL", "log_level")
    )
    log_file: str = Field(
        "", validation_alias=AliasChoices("MCP_FETCH_LOG_FILE", "LOG_FILE", "log_file")
    )
    # Host names (exact, or *.example.com) the policy lets through whatever they resolve to.
    allowed_hosts: CommaList = []
    # Networks (CIDR) the policy lets through, e.g. 10.1.2.0/24 for an intranet service.
    allowed_networks: CommaList = []
    # Largest response body read, in bytes; enforced while streaming.
    max_bytes: int = Field(102_400, gt=0)
    connect_timeout: float = Field(5.0, gt=0)
    # Whole fetch, redirects and a slow-dripping body included.
    total_timeout: float = Field(20.0, gt=0)
    max_redirects: int = Field(5, ge=0, le=10)
    user_agent: str = DEFAULT_USER_AGENT
    # Honour robots.txt for user_agent.
    respect_robots: bool = True

    @field_validator("allowed_hosts", "allowed_networks", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_commas(value)
