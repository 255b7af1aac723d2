"""Upstream identity providers (GitHub, OpenID Connect) behind one interface."""

from __future__ import annotations

import httpx2

from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.upstream.base import (
    IdentityProvider,
    UpstreamChallenge,
    UpstreamCodeRefused,
    UpstreamError,
    UpstreamUser,
    UserNotAllowed,
)
from mcp_oauth_dynamicclient.upstream.github import GitHubProvider
from mcp_oauth_dynamicclient.upstream.oidc import OidcProvider


def build_provider(settings: Settings, http: httpx2.AsyncClient) -> IdentityProvider:
    """The provider UPSTREAM_PROVIDER names, sharing the app's one HTTP client."""
    if settings.upstream_provider == "github":
        return GitHubProvider(settings, http)
    if settings.upstream_provider == "oidc":
        return OidcProvider(settings, http)
    raise ValueError(f"unknown upstream provider {settings.upstream_provider!r}")


__all__ = [
    "GitHubProvider",
    "IdentityProvider",
    "OidcProvider",
    "UpstreamChallenge",
    "UpstreamCodeRefused",
    "UpstreamError",
    "UpstreamUser",
    "UserNotAllowed",
    "build_provider",
]
