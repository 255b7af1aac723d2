"""Every setting of the auth service, from the environment (and `.env`)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

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
