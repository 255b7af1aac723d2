"""Every setting of the auth service, from the environment (and `.env`)."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcp_oauth_dynamicclient.policy import Policy

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def split_list(value: str) -> list[str]:
    """Comma- or space-separated settings as a list, blanks dropped."""
    return [item for item in value.replace(",", " ").split() if item]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # --- the service ----------------------------------------------------------
    auth_host: str = "127.0.0.1"
    auth_port: int = 8000
    log_level: LogLevel = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level"))
    log_file: str = Field("", validation_alias=AliasChoices("LOG_FILE", "log_file"))
    # The public origin clients reach the gateway at; byte for byte the issuer in
    # every token and in the metadata (no trailing slash).
    gateway_issuer: str = "http://127.0.0.1:8080"
    # MCP services behind the gateway, each served at <issuer>/<name>/mcp.
    mcp_services: str = "echo-stateless,echo-stateful,fetch"
    # Scopes every client may ask for; the first is granted when none is asked.
    scopes_supported: str = "mcp"
    # Scopes a service requires beyond that: "fetch=mcp:fetch,admin=mcp:admin mcp:audit".
    service_scopes: str = ""

    # Per-tool policy from the MCP 2026-07-28 routing headers (JSON; see policy.py),
    # inline or in a file.
    policy: str = ""
    policy_file: str = ""

    # --- abuse limits ---------------------------------------------------------
    # Requests per client address: "<count>/<seconds>"; "0" = no limit.
    rate_limit_register: str = "30/60"
    rate_limit_authorize: str = "120/60"
    rate_limit_token: str = "120/60"  # noqa: S105 - a rate, not a secret
    # Peers whose X-Forwarded-For is believed (Traefik): comma-separated CIDRs.
    trusted_proxies: str = "127.0.0.1/32,::1/128"

    # --- storage --------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_password: SecretStr = SecretStr("")
    redis_key_prefix: str = "mcp-oauth:"

    # --- tokens ---------------------------------------------------------------
    jwt_algorithm: Literal["RS256", "HS256"] = "RS256"
    # PEM file of the RS256 signing key; empty = generated once and kept in Redis.
    jwt_private_key_file: str = ""
    # PEM files of retired keys whose tokens still verify (rotation), comma-separated.
    jwt_previous_key_files: str = ""
    # HS256 only: the shared secret (at least 32 characters).
    jwt_secret: SecretStr = SecretStr("")
    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 30 * 24 * 3600  # sliding: every rotation starts it anew
    # A retried refresh within this many seconds gets the same successor, not an error.
    refresh_token_grace_seconds: int = 60
    authorization_code_lifetime: int = 120
    # Seconds until a dynamically registered client's secret expires; 0 = never.
    client_secret_lifetime: int = 0
    # How long a user's consent to a client is remembered, and a browser stays signed in.
    consent_lifetime: int = 30 * 24 * 3600
    browser_session_lifetime: int = 12 * 3600

    # --- registration -----------------------------------------------------------
    # When set, POST /register needs `Authorization: Bearer <this>` (RFC 7591 §3).
    registration_initial_access_token: SecretStr = SecretStr("")
    # Client ID Metadata Documents: https client_ids fetched with SSRF defences.
    client_metadata_documents: bool = True
    # Hosts / networks a metadata document may be fetched from despite the SSRF
    # policy (for an internal client registry); nothing by default.
    cimd_allowed_hosts: str = ""
    cimd_allowed_networks: str = ""
    cimd_max_bytes: int = 5 * 1024
    cimd_timeout: float = 5.0
    cimd_max_cache_seconds: int = 24 * 3600

    # --- upstream identity (read by upstream/) --------------------------------
    # Which provider signs users in.
    upstream_provider: Literal["github", "oidc"] = "github"
    # GitHub OAuth app credentials.
    github_client_id: str = ""
    github_client_secret: SecretStr = SecretStr("")
    # https://github.com, or a GitHub Enterprise Server base URL.
    github_base_url: str = "https://github.com"
    # REST API root; empty = derived (api.github.com for github.com, <base>/api/v3 for GHES).
    github_api_url: str = ""
    # Comma-separated GitHub logins allowed to sign in; "*" = everyone.
    allowed_github_users: str = ""
    # Comma-separated GitHub organisations whose members may sign in.
    allowed_github_orgs: str = ""
    # OpenID Connect provider (found by discovery at <issuer>/.well-known/openid-configuration).
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_scopes: str = "openid email profile"
    # Comma-separated allow-lists; a user matching any one is allowed; "*" in subjects = everyone.
    oidc_allowed_subjects: str = ""
    oidc_allowed_emails: str = ""
    oidc_allowed_email_domains: str = ""

    @field_validator("gateway_issuer")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def services(self) -> list[str]:
        return split_list(self.mcp_services)

    @property
    def base_scopes(self) -> list[str]:
        return split_list(self.scopes_supported)

    @property
    def required_scopes(self) -> dict[str, list[str]]:
        """Per service, the scopes a token must carry to reach it."""
        required: dict[str, list[str]] = {}
        for entry in self.service_scopes.split(","):
            name, _, scopes = entry.partition("=")
            if name.strip() and scopes.strip():
                required[name.strip()] = scopes.split()
        return required

    @cached_property
    def policy_rules(self) -> Policy:
        return Policy.load(self.policy, self.policy_file)

    @cached_property
    def all_scopes(self) -> list[str]:
        """Every scope a client may ask for: the base ones, and those services and policy need."""
        scopes = list(self.base_scopes)
        for needed in [*self.required_scopes.values(), self.policy_rules.scopes()]:
            scopes += [s for s in needed if s not in scopes]
        return scopes
