"""Settings from the environment and a `.env` file; CLI flags override them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
AuthMethod = Literal["none", "client_secret_basic", "client_secret_post"]
# "auto": ask the server (server/discover) and speak 2026-07-28 when it does, else
# the handshake; "handshake": always the initialize handshake and sessions.
Protocol = Literal["auto", "handshake"]


def default_credentials_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mcp-streamablehttp-client" / "credentials.json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MCP_CLIENT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # The StreamableHTTP MCP endpoint to forward to, e.g. https://gateway.example/echo/mcp.
    server_url: str = Field(
        "", validation_alias=AliasChoices("MCP_SERVER_URL", "MCP_CLIENT_SERVER_URL", "server_url")
    )
    # Where tokens and the registration are kept (0600); empty = the per-user default.
    credentials_file: str = ""
    # The name shown on the consent page (RFC 7591 client_name).
    client_name: str = "mcp-streamablehttp-client"
    # Client ID Metadata Document URL, used when the authorization server supports it.
    client_metadata_url: str = ""
    # Pre-registered credentials; when set, no registration happens.
    client_id: str = ""
    client_secret: str = ""
    # Token endpoint authentication: asked for at registration, or the pre-registered client's.
    token_endpoint_auth_method: AuthMethod = "none"  # noqa: S105
    # Open the system browser for the sign-in (false: print the URL, for headless machines).
    open_browser: bool = True
    # The stdio bridge starts the browser sign-in itself when it has no usable credentials.
    browser_login: bool = False
    # Seconds the browser step may take.
    login_timeout: float = 300.0
    # Port of the loopback redirect listener (0 = a free one each time).
    callback_port: int = 0
    # Refresh this many seconds before the access token expires.
    refresh_margin: float = 60.0
    # Seconds an HTTP request to the server may take (streams excepted).
    http_timeout: float = 30.0
    # Which protocol era to speak to the server (the stdio side always takes a handshake).
    protocol: Protocol = "auto"
    log_level: LogLevel = Field(
        "WARNING", validation_alias=AliasChoices("MCP_CLIENT_LOG_LEVEL", "LOG_LEVEL", "log_level")
    )
    log_file: str = Field(
        "", validation_alias=AliasChoices("MCP_CLIENT_LOG_FILE", "LOG_FILE", "log_file")
    )

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"server URL must start with http:// or https://: {value!r}")
        return value

    @field_validator("login_timeout", "http_timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than 0")
        return value

    @field_validator("callback_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("must be a port number (0 = any free port)")
        return value

    @property
    def credentials_path(self) -> Path:
        return (
            Path(self.credentials_file).expanduser()
            if self.credentials_file
            else (default_credentials_file())
        )
