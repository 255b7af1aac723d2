"""Authorization codes, refresh-token families and revocation.

Every token descends from one authorization code: that lineage is a family.
Replaying a code, or reusing a rotated refresh token after the grace window,
revokes the whole family (RFC 9700 §2.2.2, §4.14). A refresh retried within
the grace window gets the same successor: it is kept encrypted under a key
derived from the old refresh token itself, so Redis holds no usable token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import secrets
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.errors import OAuthError
from mcp_oauth_dynamicclient.revocations import Revocations
from mcp_oauth_dynamicclient.storage import Store, digest
from mcp_oauth_dynamicclient.tokens import AccessTokens, Grant

log = logging.getLogger(__name__)
security_log = logging.getLogger("mcp_oauth_dynamicclient.security")

VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
INVALID_CODE = "the authorization code is invalid, expired or already used"
INVALID_REFRESH = "the refresh token is invalid, expired or revoked"


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def _grace_key(refresh_token: str) -> bytes:
    return hashlib.sha256(b"mcp-oauth refresh grace\x00" + refresh_token.encode()).digest()


def _seal(refresh_token: str, response: dict[str, Any]) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_grace_key(refresh_token)).encrypt(nonce, json.dumps(response).encode(), None)
    return base64.b64encode(nonce + sealed).decode()


def _open(refresh_token: str, blob: str) -> dict[str, Any] | None:
    raw = base64.b64decode(blob)
    try:
        plain = AESGCM(_grace_key(refresh_token)).decrypt(raw[:12], raw[12:], None)
    except InvalidTag:
        return None
    result: dict[str, Any] = json.loads(plain)
    return result


class Grants:
    def __init__(self, settings: Settings, store: Store, access: AccessTokens) -> None:
        self.settings = settings
        self.store = store
        self.access = access
        self.revocations = Revocations(store)

    # --- authorization codes -----------------------------------------------------

    async def issue_code(self, grant: dict[str, Any]) -> str:
        """A single-use code bound to client, redirect URI, PKCE challenge, resource and user."""
        code = secrets.token_urlsafe(32)
        await self.store.set_json(
            grant, "code", digest(code), ttl=self.settings.authorization_code_lifetime
        )
        return code

    async def redeem_code(
        self,
        *,
        code: str,
        client_id: str,
        redirect_uri: str,
        code_verifier: str,
        resource: str,
    ) -> dict[str, Any]:
        key = digest(code)
        record = await self.store.pop_json("code", key)
        if record is None:
            used = await self.store.get_json("code-used", key)
            if used is not None:
                await self.revoke_family(used["family"])
                security_log.warning(
                    "authorization code replayed by client %s: family %s revoked",
                    client_id,
                    used["family"],
                )
            raise OAuthError("invalid_grant", INVALID_CODE)
        if record["client_id"] != client_id:
            raise OAuthError("invalid_grant", INVALID_CODE)
        if (redirect_uri or record.get("redirect_uri_given", True)) and redirect_uri != record[
            "redirect_uri"
        ]:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
        if not code_verifier:
            raise OAuthError("invalid_request", "code_verifier is required (PKCE)")
        if not VERIFIER.match(code_verifier) or s256(code_verifier) != record["code_challenge"]:
            raise OAuthError("invalid_grant", "the code_verifier does not match the code_challenge")
        if resource and resource.rstrip("/") != record["resource"]:
            raise OAuthError("invalid_target", "resource differs from the authorization request")
        family = secrets.token_urlsafe(12)
        grant = Grant(
            sub=record["sub"],
            login=record["login"],
            client_id=client_id,
            scope=record["scope"],
            resource=record["resource"],
            family=family,
        )
        await self.store.set_json(
            {"family": family}, "code-used", key, ttl=self.settings.refresh_token_lifetime
        )
        await self._open_family(grant)
        return await self._issue(grant)

    # --- refresh tokens ----------------------------------------------------------

    async def refresh(
        self, *, refresh_token: str, client_id: str, scope: str, resource: str
    ) -> dict[str, Any]:
        key = digest(refresh_token)
        record = await self.store.get_json("refresh", key)
        if record is None or record["client_id"] != client_id:
            raise OAuthError("invalid_grant", INVALID_REFRESH)
        if await self.revocations.family_revoked(record["family"]):
            raise OAuthError("invalid_grant", INVALID_REFRESH)
        if resource and resource.rstrip("/") != record["resource"]:
            raise OAuthError("invalid_target", "resource differs from the original grant")
        granted = record["scope"].split()
        wanted = scope.split() if scope else granted
        if extra := [s for s in wanted if s not in granted]:
            raise OAuthError("invalid_scope", f"scopes {extra} were not granted to this token")
        if "rotated_at" in record:
            return await self._retried(refresh_token, record)

        lock = self.store.key("rotating", key)
        if not await self.store.redis.set(lock, "1", nx=True, ex=5):
            # Another request is rotating this token right now: take its result.
            for _ in range(50):
                await asyncio.sleep(0.05)
                record = await self.store.get_json("refresh", key) or record
                if "rotated_at" in record:
                    return await self._retried(refresh_token, record)
            raise OAuthError("invalid_grant", INVALID_REFRESH)
        try:
            grant = Grant(
                sub=record["sub"],
                login=record["login"],
                client_id=client_id,
                scope=record["scope"],
                resource=record["resource"],
                family=record["family"],
            )
            response = await self._issue(grant, access_scope=" ".join(wanted))
            remaining = max(1, await self.store.redis.ttl(self.store.key("refresh", key)))
            sealed = {
                **record,
                "rotated_at": time.time(),
                "successor": _seal(refresh_token, response),
            }
            await self.store.set_json(sealed, "refresh", key, ttl=remaining)
            await self._extend_family(grant)
            return response
        finally:
            await self.store.redis.delete(lock)

    async def _retried(self, refresh_token: str, record: dict[str, Any]) -> dict[str, Any]:
        """A rotated token used again: same successor inside the grace window, else revoke."""
        age = time.time() - float(record["rotated_at"])
        if age <= self.settings.refresh_token_grace_seconds:
            successor = _open(refresh_token, record["successor"])
            if successor is not None:
                return successor
        await self.revoke_family(record["family"])
        security_log.warning(
            "refresh token reused %.0f s after rotation by client %s: family %s revoked",
            age,
            record["client_id"],
            record["family"],
        )
        raise OAuthError("invalid_grant", INVALID_REFRESH)

    # --- issuing -----------------------------------------------------------------

    async def _issue(self, grant: Grant, access_scope: str | None = None) -> dict[str, Any]:
        scope = access_scope if access_scope is not None else grant.scope
        access_token, claims = self.access.mint(
            Grant(grant.sub, grant.login, grant.client_id, scope, grant.resource, grant.family)
        )
        refresh_token = secrets.token_urlsafe(32)
        record = {
            "family": grant.family,
            "client_id": grant.client_id,
            "sub": grant.sub,
            "login": grant.login,
            "scope": grant.scope,
            "resource": grant.resource,
            "created": int(time.time()),
        }
        await self.store.set_json(
            record, "refresh", digest(refresh_token), ttl=self.settings.refresh_token_lifetime
        )
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": claims["exp"] - claims["iat"],
            "refresh_token": refresh_token,
            "scope": scope,
        }

    async def _open_family(self, grant: Grant) -> None:
        ttl = self.settings.refresh_token_lifetime
        pipe = self.store.redis.pipeline()
        pipe.set(
            self.store.key("family", grant.family),
            json.dumps({"client_id": grant.client_id, "sub": grant.sub}),
            ex=ttl,
        )
        for index in (("client", grant.client_id), ("user", grant.sub)):
            name = self.store.key("families", *index)
            pipe.sadd(name, grant.family)
            pipe.expire(name, ttl)
        await pipe.execute()

    async def _extend_family(self, grant: Grant) -> None:
        ttl = self.settings.refresh_token_lifetime
        pipe = self.store.redis.pipeline()
        pipe.expire(self.store.key("family", grant.family), ttl)
        for index in (("client", grant.client_id), ("user", grant.sub)):
            pipe.expire(self.store.key("families", *index), ttl)
        await pipe.execute()

    # --- revocation --------------------------------------------------------------

    @property
    def _revocation_ttl(self) -> int:
        return self.settings.refresh_token_lifetime + self.settings.access_token_lifetime

    async def revoke_family(self, family: str) -> None:
        await self.revocations.record("family", family, "1", self._revocation_ttl)
        await self.store.delete("family", family)

    async def revoke_families(self, *index: str) -> int:
        """Revoke every family of a client (`"client", id`) or user (`"user", sub`)."""
        name = self.store.key("families", *index)
        families = await self.store.redis.smembers(name)
        for family in families:
            await self.revoke_family(str(family))
        await self.store.redis.delete(name)
        return len(families)

    async def revoke_client(self, client_id: str) -> int:
        """Every token of the client, including access tokens still in flight."""
        await self.revocations.record("client", client_id, str(time.time()), self._revocation_ttl)
        return await self.revoke_families("client", client_id)

    async def revoke_access_token(self, claims: dict[str, Any]) -> None:
        ttl = max(1, int(claims["exp"]) - int(time.time()) + 60)
        await self.revocations.record("jti", str(claims["jti"]), "1", ttl)

    async def revoke_refresh_token(self, refresh_token: str, client_id: str) -> bool:
        """RFC 7009: revoking a refresh token revokes its family; another client's is ignored."""
        record = await self.store.get_json("refresh", digest(refresh_token))
        if record is None or record["client_id"] != client_id:
            return False
        await self.revoke_family(record["family"])
        return True

    async def is_revoked(self, claims: dict[str, Any]) -> bool:
        """The token, its family, or its client revoked (a client's revocation holds the
        time it happened: tokens the client obtains afterwards are not affected)."""
        return await self.revocations.is_revoked(claims)
