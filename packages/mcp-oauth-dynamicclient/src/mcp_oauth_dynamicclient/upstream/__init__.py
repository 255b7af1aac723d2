"""Upstream identity providers (GitHub, OpenID Connect) behind one interface."""

from mcp_oauth_dynamicclient.upstream.base import (
    IdentityProvider,
    UpstreamChallenge,
    UpstreamError,
    UpstreamUser,
    UserNotAllowed,
)

__all__ = [
    "IdentityProvider",
    "UpstreamChallenge",
    "UpstreamError",
    "UpstreamUser",
    "UserNotAllowed",
]
