"""Any OpenID Connect provider, found by discovery, as the upstream identity provider.

The ID token is the proof of who signed in, so it is verified in full: its
signature against the provider's published keys, and its issuer, audience,
expiry and nonce. Everything the provider says comes from the discovery
document, whose issuer must equal the configured one byte for byte (the
mix-up defence of OpenID Connect Discovery §4.3).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx2
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.upstream.base import (
    UpstreamChallenge,
    UpstreamCodeRefused,
    UpstreamError,
    UpstreamUser,
    UserNotAllowed,
)

log = logging.getLogger(__name__)

DISCOVERY_TTL = 3600.0  # seconds a discovery document is trusted before it is read again
CLOCK_LEEWAY = 60  # seconds of clock skew tolerated on exp / iat
# Signatures only by the provider's published keys: never "none", never HMAC.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document this gateway relies on."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    token_auth_methods: tuple[str, ...]
    signing_algorithms: tuple[str, ...]

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ProviderMetadata:
        def required(name: str) -> str:
            value = doc.get(name)
            if not isinstance(value, str) or not value:
                raise UpstreamError(f"OIDC discovery document has no {name}")
            return value

        def strings(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
            value = doc.get(name)
            if not isinstance(value, list):
                return default
            return tuple(item for item in value if isinstance(item, str))

        userinfo = doc.get("userinfo_endpoint")
        algorithms = tuple(
            alg
            for alg in strings("id_token_signing_alg_values_supported", ("RS256",))
            if alg in ASYMMETRIC_ALGORITHMS
        )
        return cls(
            issuer=required("issuer"),
            authorization_endpoint=required("authorization_endpoint"),
            token_endpoint=required("token_endpoint"),
            jwks_uri=required("jwks_uri"),
            userinfo_endpoint=userinfo if isinstance(userinfo, str) and userinfo else None,
            # Discovery §3: absent means client_secret_basic.
            token_auth_methods=strings(
                "token_endpoint_auth_methods_supported", ("client_secret_basic",)
            ),
            signing_algorithms=algorithms or ("RS256",),
        )


def comma_list(raw: str, *, lower: bool) -> frozenset[str]:
    items = (item.strip() for item in raw.split(","))
    return frozenset((item.lower() if lower else item) for item in items if item)


class OidcProvider:
    kind = "oidc"

    def __init__(self, settings: Settings, http: httpx2.AsyncClient) -> None:
        self._http = http
        self.issuer = settings.oidc_issuer
        self._client_id = settings.oidc_client_id
        self._client_secret = settings.oidc_client_secret.get_secret_value()
        scopes = settings.oidc_scopes.split()
        # Without "openid" there is no ID token, so no proof of who signed in.
        self._scope = " ".join(scopes if "openid" in scopes else ["openid", *scopes])
        subjects = comma_list(settings.oidc_allowed_subjects, lower=False)
        self._everyone = "*" in subjects
        self._subjects = subjects - {"*"}
        self._emails = comma_list(settings.oidc_allowed_emails, lower=True)
        self._domains = frozenset(
            domain.lstrip("@")
            for domain in comma_list(settings.oidc_allowed_email_domains, lower=True)
        )
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._lock = asyncio.Lock()
        if not (self._everyone or self._subjects or self._emails or self._domains):
            log.warning("oidc: every OIDC_ALLOWED_* list is empty; nobody can sign in")

    async def start(self, *, state: str, redirect_uri: str) -> UpstreamChallenge:
        meta = await self.metadata()
        if not self._client_id:
            raise UpstreamError("OIDC sign-in is not configured (OIDC_CLIENT_ID is empty)")
        verifier, nonce = generate_token(64), generate_token(32)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "scope": self._scope,
                "state": state,
                "nonce": nonce,
                "code_challenge": create_s256_code_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in meta.authorization_endpoint else "?"
        url = f"{meta.authorization_endpoint}{separator}{query}"
        return UpstreamChallenge(url=url, code_verifier=verifier, nonce=nonce)

    async def finish(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamUser:
        meta = await self.metadata()
        tokens = await self._exchange(meta, code, redirect_uri, code_verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise UpstreamError("OIDC token endpoint answered without an ID token")
        claims = await self._verify(meta, id_token, nonce)
        access_token = tokens.get("access_token")
        if not isinstance(claims.get("email"), str) and isinstance(access_token, str):
            info = await self._userinfo(meta, access_token, claims["sub"])
            # The signed ID token wins; userinfo only fills what it left out.
            claims = {**info, **{k: v for k, v in claims.items() if v is not None}}
        return self._admit(claims)

    async def metadata(self) -> ProviderMetadata:
        """The discovery document, read once and then again only after DISCOVERY_TTL."""
        if not self.issuer:
            raise UpstreamError("OIDC sign-in is not configured (OIDC_ISSUER is empty)")
        async with self._lock:
            now = time.monotonic()
            if self._metadata is None or now - self._metadata_at > DISCOVERY_TTL:
                url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
                doc = await self._get_json(url, "discovery")
                if not isinstance(doc, dict):
                    raise UpstreamError("OIDC discovery did not answer a JSON object")
                meta = ProviderMetadata.from_document(doc)
                if meta.issuer != self.issuer:
                    raise UpstreamError(
                        f"OIDC discovery names issuer {meta.issuer[:200]!r}, "
                        f"not the configured {self.issuer!r}"
                    )
                self._metadata, self._metadata_at = meta, now
            return self._metadata

    async def _keyset(self, meta: ProviderMetadata, *, refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            doc = await self._get_json(meta.jwks_uri, "JWKS")
            try:
                self._keys = KeySet.import_key_set(doc)
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise UpstreamError(f"OIDC JWKS is not a usable key set: {exc}") from None
        return self._keys

    async def _exchange(
        self, meta: ProviderMetadata, code: str, redirect_uri: str, code_verifier: str
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        auth: httpx2.BasicAuth | None = None
        if not self._client_secret:
            form["client_id"] = self._client_id  # public client: token_endpoint_auth_method none
        elif "client_secret_basic" in meta.token_auth_methods:
            # RFC 6749 §2.3.1: both halves are form-encoded before Basic encoding.
            auth = httpx2.BasicAuth(
                quote(self._client_id, safe=""), quote(self._client_secret, safe="")
            )
        elif "client_secret_post" in meta.token_auth_methods:
            form["client_id"] = self._client_id
            form["client_secret"] = self._client_secret
        else:
            raise UpstreamError(
                "OIDC provider supports neither client_secret_basic nor client_secret_post "
                f"(it offers {', '.join(meta.token_auth_methods)[:200]})"
            )
        try:
            response = await self._http.post(
                meta.token_endpoint,
                data=form,
                auth=auth or httpx2.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
        except httpx2.HTTPError as exc:
            raise UpstreamError(f"OIDC token endpoint unreachable: {_describe(exc)}") from None
        body = _json(response, "token endpoint")
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            refused = f"OIDC token endpoint refused the code: HTTP {response.status_code}" + (
                f" {str(error)[:80]}" if error else ""
            )
            if response.status_code == 400 and error == "invalid_grant":  # the code, not us
                raise UpstreamCodeRefused(refused)
            raise UpstreamError(refused)
        return body

    async def _verify(self, meta: ProviderMetadata, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            header = jws.extract_compact(id_token.encode()).headers()
        except (JoseError, ValueError) as exc:
            raise UpstreamError(f"OIDC ID token is malformed: {exc}") from None
        keys = await self._keyset(meta, refresh=False)
        kid = header.get("kid")
        if kid is not None and all(key.kid != kid for key in keys.keys):
            keys = await self._keyset(meta, refresh=True)  # the provider may have rotated keys
        try:
            token = jwt.decode(id_token, keys, algorithms=list(meta.signing_algorithms))
            jwt.JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY,
                iss={"essential": True, "value": meta.issuer},
                sub={"essential": True},
                aud={"essential": True, "value": self._client_id},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise UpstreamError(f"OIDC ID token rejected: {exc}") from None
        claims = dict(token.claims)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self._client_id:
            raise UpstreamError("OIDC ID token rejected: several audiences and azp is not us")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise UpstreamError("OIDC ID token rejected: empty sub")
        return claims

    async def _userinfo(
        self, meta: ProviderMetadata, access_token: str, sub: str
    ) -> dict[str, Any]:
        """Claims the ID token left out; Core §5.3.2: only if userinfo is about the same sub."""
        if meta.userinfo_endpoint is None:
            return {}
        info = await self._get_json(
            meta.userinfo_endpoint, "userinfo", headers={"Authorization": f"Bearer {access_token}"}
        )
        if not isinstance(info, dict) or info.get("sub") != sub:
            raise UpstreamError("OIDC userinfo does not describe the ID token's subject")
        return info

    def _admit(self, claims: dict[str, Any]) -> UpstreamUser:
        sub: str = claims["sub"]
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        username = claims.get("preferred_username")
        name = claims.get("name")
        user = UpstreamUser(
            id=f"oidc:{sub}",
            login=username if isinstance(username, str) and username else email or sub,
            name=name if isinstance(name, str) and name else None,
            email=email,
        )
        if self._everyone or sub in self._subjects:
            log.info("oidc: %s (%s) signed in (allowed subject)", user.login, user.id)
            return user
        # An address the provider says it has not verified proves nothing.
        verified = claims.get("email_verified") not in (False, "false")
        if email and verified:
            address = email.lower()
            if address in self._emails or address.rpartition("@")[2] in self._domains:
                log.info("oidc: %s (%s) signed in (allowed email)", user.login, user.id)
                return user
        log.warning("oidc: %s (%s) signed in but is not on the allow-lists", user.login, user.id)
        raise UserNotAllowed(user)

    async def _get_json(self, url: str, what: str, headers: dict[str, str] | None = None) -> Any:
        try:
            response = await self._http.get(
                url, headers={"Accept": "application/json", **(headers or {})}
            )
        except httpx2.HTTPError as exc:
            raise UpstreamError(f"OIDC {what} unreachable: {_describe(exc)}") from None
        if response.status_code != 200:
            raise UpstreamError(f"OIDC {what} answered HTTP {response.status_code}")
        return _json(response, what)


def _json(response: httpx2.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UpstreamError(
            f"OIDC {what} did not answer JSON (HTTP {response.status_code})"
        ) from None


def _describe(exc: httpx2.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
