"""Access tokens: JWTs (RFC 9068 profile) signed with the service's key.

Only the configured algorithm is accepted when verifying, so `alg: none`
and HS256-signed-with-the-RSA-public-key (key confusion) fail before any
claim is read.

ForwardAuth verifies the same few tokens over and over, once per MCP request:
a token that passed every check for an audience is remembered until it
expires, so the RSA signature and the claims are checked once per token, not
once per request. Revocation is not remembered here: it is asked of Redis
every time.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from mcp_oauth_dynamicclient.keys import SigningKeys

LEEWAY_SECONDS = 30
# Distinct (token, audience) pairs remembered as verified: a few per active client.
VERIFIED_CACHE_SIZE = 4096


class InvalidToken(Exception):
    """Not a token of ours, or no longer valid; the message is safe to return."""


@dataclass(frozen=True)
class Grant:
    """What a token family was granted: by whom, to which client, for what."""

    sub: str
    login: str
    client_id: str
    scope: str
    resource: str
    family: str


class AccessTokens:
    def __init__(self, keys: SigningKeys, issuer: str, lifetime: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.lifetime = lifetime
        self._algorithms = [keys.algorithm]
        # (token, audience) -> (claims, the time they stop being valid); oldest first.
        self._verified: dict[tuple[str, str | None], tuple[dict[str, Any], float]] = {}

    def mint(self, grant: Grant) -> tuple[str, dict[str, Any]]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": grant.sub,
            "aud": grant.resource,
            "client_id": grant.client_id,
            "scope": grant.scope,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "jti": secrets.token_urlsafe(16),
            "fam": grant.family,
            "login": grant.login,
        }
        header = {"alg": self.keys.algorithm, "kid": self.keys.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, self.keys.current, algorithms=self._algorithms), claims

    def verify(
        self, token: str, *, audience: str | None = None, check_expiry: bool = True
    ) -> dict[str, Any]:
        """The token's claims if it is ours, intact, current and (if given) for `audience`."""
        if not check_expiry:
            return self._checked(token, audience, check_expiry=False)
        key = (token, audience)
        known = self._verified.get(key)
        if known is not None:
            claims, valid_until = known
            if time.time() < valid_until:
                return dict(claims)
            del self._verified[key]
        claims = self._checked(token, audience, check_expiry=True)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[key] = (dict(claims), float(claims["exp"]) + LEEWAY_SECONDS)
        return claims

    def _checked(self, token: str, audience: str | None, *, check_expiry: bool) -> dict[str, Any]:
        try:
            decoded = jwt.decode(token, self.keys.verifying, algorithms=self._algorithms)
        except (JoseError, ValueError) as exc:
            raise InvalidToken(f"the token is not valid ({type(exc).__name__})") from None
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "sub": {"essential": True},
            "jti": {"essential": True},
            "client_id": {"essential": True},
            "exp": {"essential": True},
        }
        if audience is not None:
            options["aud"] = {"essential": True, "value": audience}
        registry = JWTClaimsRegistry(leeway=LEEWAY_SECONDS, **options)
        claims = decoded.claims
        try:
            if check_expiry:
                registry.validate(claims)
            else:
                registry.validate({**claims, "exp": int(time.time()) + 60})
        except JoseError as exc:
            raise InvalidToken(_claim_message(exc)) from None
        return claims


def _claim_message(exc: JoseError) -> str:
    text = str(exc)
    if "exp" in text and "expired" in text.lower():
        return "the token has expired"
    if "aud" in text:
        return "the token was issued for another resource"
    if "iss" in text:
        return "the token was issued by another authorization server"
    return f"the token is not valid ({text})"
