"""The one small interface every upstream identity provider implements.

The gateway is an OAuth proxy: it never checks passwords itself. After the
user consents, `/authorize` sends the browser to the upstream provider
(`start`), and `/callback` turns the upstream code into a user (`finish`),
which also enforces the provider's allow-lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class UpstreamUser:
    """Who signed in upstream.

    `id` is stable and namespaced by provider (``github:583231``,
    ``oidc:<sub>``) and becomes the access token's ``sub`` and ``X-User-Id``;
    `login` is the human-readable name for ``X-User-Name``.
    """

    id: str
    login: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class UpstreamChallenge:
    """Where to send the browser, and what `finish` needs back to complete it."""

    url: str
    code_verifier: str  # upstream PKCE verifier (S256), kept server-side
    nonce: str  # OIDC nonce ('' where the provider has none)


class UpstreamError(Exception):
    """The upstream provider failed or refused (network error, bad code, bad ID token)."""


class UpstreamCodeRefused(UpstreamError):
    """The provider refused the code the browser brought back: invalid, expired or used.

    The browser's fault (or an old link), not the provider's or the gateway's.
    """


class UserNotAllowed(Exception):
    """The user signed in upstream but is not on this gateway's allow-lists."""

    def __init__(self, user: UpstreamUser) -> None:
        super().__init__(f"user {user.login!r} is not allowed")
        self.user = user


class IdentityProvider(Protocol):
    kind: str  # "github" | "oidc"

    async def start(self, *, state: str, redirect_uri: str) -> UpstreamChallenge:
        """Build the upstream authorization URL for this `state` and our callback URI.

        Every call makes a fresh PKCE verifier (and OIDC nonce): store the challenge
        server-side with the flow, never in the browser. Raises UpstreamError when
        the provider is not configured or (OIDC) its discovery document cannot be read.
        """
        ...

    async def finish(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamUser:
        """Exchange the upstream code, identify the user, enforce allow-lists.

        Raises UpstreamError or UserNotAllowed.
        """
        ...
