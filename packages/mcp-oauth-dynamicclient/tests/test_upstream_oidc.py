"""OpenID Connect as the upstream, against the real third-party `oidc-provider-mock`.

Where a test needs the provider to misbehave (a tampered or foreign ID token,
rotated keys, other client authentication methods), a relay sits in front of
the real provider: it forwards every request unchanged, with the relay's Host,
so the provider names the relay as its issuer, and rewrites only what that
test is about.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx2
import pytest
from joserfc import jws, jwt
from joserfc.jwk import RSAKey
from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.upstream import (
    OidcProvider,
    UpstreamCodeRefused,
    UpstreamError,
    UpstreamUser,
    UserNotAllowed,
    build_provider,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from testsupport.net import free_port
from testsupport.oidc_mock import OidcMock, complete_login
from testsupport.processes import serve_app

pytestmark = pytest.mark.anyio

CALLBACK = "http://127.0.0.1:8000/callback"
CLIENT_ID = "gateway"
CLIENT_SECRET = "gateway-secret-7c1f"
USERS = [
    {
        "sub": "alice-sub-1",
        "email": "alice@example.org",
        "email_verified": True,
        "preferred_username": "alice",
        "name": "Alice Liddell",
    },
    {"sub": "bob-sub-2", "email": "bob@corp.example", "email_verified": False},
    {"sub": "carol-sub-3", "email": "carol@corp.example"},
    {"sub": "dave-sub-4"},
]


@pytest.fixture(scope="module")
def provider_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcMock]:
    with OidcMock(tmp_path_factory.mktemp("oidc"), USERS) as mock:
        yield mock


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=5.0) as client:
        yield client


def oidc_settings(issuer: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "upstream_provider": "oidc",
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_scopes": "openid email profile",
        "oidc_allowed_subjects": "",
        "oidc_allowed_emails": "",
        "oidc_allowed_email_domains": "",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


async def signed_in(
    provider: OidcProvider, http: httpx2.AsyncClient, sub: str, *, nonce: str | None = None
) -> UpstreamUser:
    challenge = await provider.start(state="st-7", redirect_uri=CALLBACK)
    back = await complete_login(http, challenge.url, sub)
    assert str(back).startswith(CALLBACK + "?")
    assert back.params["state"] == "st-7"
    return await provider.finish(
        code=back.params["code"],
        redirect_uri=CALLBACK,
        code_verifier=challenge.code_verifier,
        nonce=challenge.nonce if nonce is None else nonce,
    )


class Relay:
    """Forwards to the real provider; a test may rewrite discovery, JWKS or token answers."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: Counter[str] = Counter()
        self.token_requests: list[tuple[dict[str, str], dict[str, list[str]]]] = []
        self.discovery_extra: dict[str, Any] = {}
        self.jwks_answers: list[dict[str, Any]] = []  # served in turn, the last one repeatedly
        self.rewrite_tokens: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.app = Starlette(routes=[Route("/{path:path}", self.forward, methods=["GET", "POST"])])

    async def forward(self, request: Request) -> Response:
        path = request.url.path
        self.calls[path] += 1
        if path == "/jwks" and self.jwks_answers:
            answer = (
                self.jwks_answers.pop(0) if len(self.jwks_answers) > 1 else self.jwks_answers[0]
            )
            return JSONResponse(answer)
        body = await request.body()
        headers = {
            k: v
            for k, v in request.headers.items()
            if k not in ("content-length", "connection", "accept-encoding")
        }
        async with httpx2.AsyncClient() as client:
            answer = await client.request(
                request.method,
                self.upstream + path,
                params=dict(request.query_params),
                content=body,
                headers=headers,  # including Host: the provider names itself after it
            )
        if path == "/.well-known/openid-configuration":
            return JSONResponse({**answer.json(), **self.discovery_extra})
        if path == "/oauth2/token":
            self.token_requests.append((headers, parse_form(body)))
            if answer.status_code == 200 and self.rewrite_tokens is not None:
                return JSONResponse(self.rewrite_tokens(answer.json()))
        kept = {k: v for k, v in answer.headers.items() if k in ("content-type", "location")}
        return Response(answer.content, answer.status_code, headers=kept)


def parse_form(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode())


@pytest.fixture
def relay(provider_mock: OidcMock) -> Iterator[tuple[Relay, str]]:
    relay = Relay(provider_mock.issuer)
    with serve_app(relay.app) as url:
        yield relay, url


def unverified_claims(id_token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(jws.extract_compact(id_token.encode()).payload)
    return claims


FORGER = RSAKey.generate_key(2048, parameters={"kid": "forger", "use": "sig"}, private=True)
ROTATED = RSAKey.generate_key(2048, parameters={"kid": "rotated", "use": "sig"}, private=True)


def public_jwks(*keys: RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def resign(key: RSAKey, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., Any]:
    """Replace the provider's ID token by one with changed claims, signed by `key`."""

    def rewrite(tokens: dict[str, Any]) -> dict[str, Any]:
        claims = change(unverified_claims(tokens["id_token"]))
        forged = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        return {**tokens, "id_token": forged}

    return rewrite


# --- the round trip -----------------------------------------------------------------------


async def test_round_trip_returns_the_oidc_user(
    provider_mock: OidcMock, http: httpx2.AsyncClient
) -> None:
    provider = OidcProvider(
        oidc_settings(provider_mock.issuer, oidc_allowed_subjects="alice-sub-1"), http
    )
    challenge = await provider.start(state="st-1", redirect_uri=CALLBACK)
    query = httpx2.URL(challenge.url).params
    assert challenge.url.startswith(f"{provider_mock.issuer}/oauth2/authorize?")
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK and query["scope"] == "openid email profile"
    assert query["nonce"] == challenge.nonce and len(challenge.nonce) >= 22
    digest = hashlib.sha256(challenge.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert query["code_challenge_method"] == "S256"

    back = await complete_login(http, challenge.url, "alice-sub-1")
    user = await provider.finish(
        code=back.params["code"],
        redirect_uri=CALLBACK,
        code_verifier=challenge.code_verifier,
        nonce=challenge.nonce,
    )
    assert user == UpstreamUser(
        id="oidc:alice-sub-1", login="alice", name="Alice Liddell", email="alice@example.org"
    )


async def test_every_flow_has_its_own_verifier_and_nonce(
    provider_mock: OidcMock, http: httpx2.AsyncClient
) -> None:
    provider = OidcProvider(oidc_settings(provider_mock.issuer), http)
    one = await provider.start(state="s", redirect_uri=CALLBACK)
    two = await provider.start(state="s", redirect_uri=CALLBACK)
    assert one.code_verifier != two.code_verifier and one.nonce != two.nonce


async def test_openid_scope_is_always_asked_for(
    provider_mock: OidcMock, http: httpx2.AsyncClient
) -> None:
    settings = oidc_settings(provider_mock.issuer, oidc_scopes="email profile")
    challenge = await OidcProvider(settings, http).start(state="s", redirect_uri=CALLBACK)
    assert httpx2.URL(challenge.url).params["scope"] == "openid email profile"


@pytest.mark.parametrize(
    ("lists", "sub", "login"),
    [
        ({"oidc_allowed_subjects": "*"}, "dave-sub-4", "dave-sub-4"),  # no email: login is sub
        ({"oidc_allowed_subjects": "carol-sub-3, alice-sub-1"}, "alice-sub-1", "alice"),
        ({"oidc_allowed_subjects": "bob-sub-2"}, "bob-sub-2", "bob@corp.example"),
        ({"oidc_allowed_emails": "ALICE@example.org"}, "alice-sub-1", "alice"),
        ({"oidc_allowed_email_domains": "corp.example"}, "carol-sub-3", "carol@corp.example"),
        ({"oidc_allowed_email_domains": "@Corp.Example"}, "carol-sub-3", "carol@corp.example"),
    ],
)
async def test_allowed(
    provider_mock: OidcMock,
    http: httpx2.AsyncClient,
    lists: dict[str, str],
    sub: str,
    login: str,
) -> None:
    provider = OidcProvider(oidc_settings(provider_mock.issuer, **lists), http)
    user = await signed_in(provider, http, sub)
    assert user.id == f"oidc:{sub}" and user.login == login


@pytest.mark.parametrize(
    ("lists", "sub"),
    [
        ({}, "alice-sub-1"),  # nothing configured: nobody
        ({"oidc_allowed_subjects": "alice-sub-1"}, "bob-sub-2"),
        ({"oidc_allowed_subjects": "ALICE-SUB-1"}, "alice-sub-1"),  # subjects are exact
        ({"oidc_allowed_emails": "alice@example.org"}, "carol-sub-3"),
        ({"oidc_allowed_emails": "bob@corp.example"}, "bob-sub-2"),  # email_verified false
        ({"oidc_allowed_email_domains": "corp.example"}, "bob-sub-2"),
        ({"oidc_allowed_email_domains": "example.org"}, "dave-sub-4"),  # no email at all
        ({"oidc_allowed_email_domains": "ample.org"}, "alice-sub-1"),
    ],
)
async def test_refused(
    provider_mock: OidcMock, http: httpx2.AsyncClient, lists: dict[str, str], sub: str
) -> None:
    provider = OidcProvider(oidc_settings(provider_mock.issuer, **lists), http)
    with pytest.raises(UserNotAllowed) as refused:
        await signed_in(provider, http, sub)
    assert refused.value.user.id == f"oidc:{sub}"


# --- what must be refused -----------------------------------------------------------------


async def test_wrong_code_is_refused(provider_mock: OidcMock, http: httpx2.AsyncClient) -> None:
    provider = OidcProvider(oidc_settings(provider_mock.issuer, oidc_allowed_subjects="*"), http)
    challenge = await provider.start(state="s", redirect_uri=CALLBACK)
    with pytest.raises(UpstreamCodeRefused, match="refused the code: HTTP 400 invalid_grant"):
        await provider.finish(
            code="not-a-code",
            redirect_uri=CALLBACK,
            code_verifier=challenge.code_verifier,
            nonce=challenge.nonce,
        )


async def test_wrong_nonce_is_refused(provider_mock: OidcMock, http: httpx2.AsyncClient) -> None:
    provider = OidcProvider(oidc_settings(provider_mock.issuer, oidc_allowed_subjects="*"), http)
    with pytest.raises(UpstreamError, match=r"ID token rejected.*nonce"):
        await signed_in(provider, http, "alice-sub-1", nonce="a-nonce-from-another-flow")


async def test_tampered_id_token_is_refused(
    relay: tuple[Relay, str], http: httpx2.AsyncClient
) -> None:
    proxy, issuer = relay

    def tamper(tokens: dict[str, Any]) -> dict[str, Any]:
        header, payload, signature = tokens["id_token"].split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["sub"] = "dave-sub-4"  # claim to be someone else, keep the signature
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return {**tokens, "id_token": f"{header}.{payload}.{signature}"}

    proxy.rewrite_tokens = tamper
    provider = OidcProvider(oidc_settings(issuer, oidc_allowed_subjects="dave-sub-4"), http)
    with pytest.raises(UpstreamError, match=r"ID token rejected.*bad_signature"):
        await signed_in(provider, http, "alice-sub-1")


async def test_foreign_signed_id_token_is_refused_after_one_jwks_refetch(
    relay: tuple[Relay, str], http: httpx2.AsyncClient
) -> None:
    proxy, issuer = relay
    proxy.rewrite_tokens = resign(FORGER, lambda claims: claims)  # claims intact, key foreign
    provider = OidcProvider(oidc_settings(issuer, oidc_allowed_subjects="*"), http)
    with pytest.raises(UpstreamError, match=r"ID token rejected.*forger"):
        await signed_in(provider, http, "alice-sub-1")
    assert proxy.calls["/jwks"] == 2  # the cached set, then one refetch for the unknown kid


async def test_rotated_key_is_found_by_refetching_the_jwks(
    relay: tuple[Relay, str], http: httpx2.AsyncClient
) -> None:
    proxy, issuer = relay
    proxy.jwks_answers = [public_jwks(FORGER), public_jwks(FORGER, ROTATED)]
    proxy.rewrite_tokens = resign(FORGER, lambda claims: claims)
    provider = OidcProvider(oidc_settings(issuer, oidc_allowed_subjects="*"), http)
    assert (await signed_in(provider, http, "alice-sub-1")).id == "oidc:alice-sub-1"
    assert proxy.calls["/jwks"] == 1
    proxy.rewrite_tokens = resign(ROTATED, lambda claims: claims)
    assert (await signed_in(provider, http, "carol-sub-3")).id == "oidc:carol-sub-3"
    assert proxy.calls["/jwks"] == 2
    assert proxy.calls["/.well-known/openid-configuration"] == 1  # discovery is cached


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: {**c, "aud": "another-client"}, "aud"),
        (lambda c: {**c, "aud": [CLIENT_ID, "another-client"]}, "several audiences"),
        (lambda c: {**c, "iss": "https://issuer.example"}, "iss"),
        (lambda c: {**c, "exp": int(time.time()) - 600}, "expired"),
        (lambda c: {k: v for k, v in c.items() if k != "nonce"}, "nonce"),
        (lambda c: {k: v for k, v in c.items() if k != "exp"}, "exp"),
    ],
    ids=["foreign-aud", "aud-without-azp", "foreign-iss", "expired", "no-nonce", "no-exp"],
)
async def test_id_token_claims_are_checked(
    relay: tuple[Relay, str],
    http: httpx2.AsyncClient,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    message: str,
) -> None:
    proxy, issuer = relay
    proxy.jwks_answers = [public_jwks(FORGER)]
    proxy.rewrite_tokens = resign(FORGER, change)
    provider = OidcProvider(oidc_settings(issuer, oidc_allowed_subjects="*"), http)
    with pytest.raises(UpstreamError, match=rf"ID token rejected.*{message}"):
        await signed_in(provider, http, "alice-sub-1")


async def test_several_audiences_with_our_azp_are_accepted(
    relay: tuple[Relay, str], http: httpx2.AsyncClient
) -> None:
    proxy, issuer = relay
    proxy.jwks_answers = [public_jwks(FORGER)]
    proxy.rewrite_tokens = resign(
        FORGER, lambda c: {**c, "aud": ["api", CLIENT_ID], "azp": CLIENT_ID}
    )
    provider = OidcProvider(oidc_settings(issuer, oidc_allowed_subjects="*"), http)
    assert (await signed_in(provider, http, "alice-sub-1")).id == "oidc:alice-sub-1"


@pytest.mark.parametrize(
    "change",
    [lambda c: {k: v for k, v in c.items() if k != "email"}, lambda c: {**c, "email": None}],
    ids=["absent", "null"],
)
async def test_userinfo_supplies_a_missing_email(
    relay: tuple[Relay, str],
    http: httpx2.AsyncClient,
    change: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    proxy, issuer = relay
    proxy.jwks_answers = [public_jwks(FORGER)]
    proxy.rewrite_tokens = resign(FORGER, change)
    settings = oidc_settings(issuer, oidc_allowed_email_domains="corp.example")
    user = await signed_in(OidcProvider(settings, http), http, "carol-sub-3")
    assert user.email == "carol@corp.example"
    assert proxy.calls["/userinfo"] == 1


async def test_userinfo_about_someone_else_is_refused(
    relay: tuple[Relay, str], http: httpx2.AsyncClient
) -> None:
    proxy, issuer = relay
    proxy.jwks_answers = [public_jwks(FORGER)]
    proxy.rewrite_tokens = resign(
        FORGER, lambda c: {**{k: v for k, v in c.items() if k != "email"}, "sub": "alice-sub-1"}
    )
    provider = OidcProvider(oidc_settings(issuer, oidc_allowed_subjects="*"), http)
    with pytest.raises(UpstreamError, match="userinfo does not describe"):
        await signed_in(provider, http, "carol-sub-3")


# --- client authentication at the token endpoint -------------------------------------------


async def test_client_secret_basic_by_default(
    relay: tuple[Relay, str], http: httpx2.AsyncClient
) -> None:
    proxy, issuer = relay
    await signed_in(
        OidcProvider(oidc_settings(issuer, oidc_allowed_subjects="*"), http), http, "alice-sub-1"
    )
    headers, form = proxy.token_requests[-1]
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert headers["authorization"] == f"Basic {expected}"
    assert "client_secret" not in form
    assert form["code_verifier"][0] and form["grant_type"] == ["authorization_code"]


async def test_client_secret_post_when_that_is_all_the_provider_offers(
    relay: tuple[Relay, str], http: httpx2.AsyncClient
) -> None:
    proxy, issuer = relay
    proxy.discovery_extra = {"token_endpoint_auth_methods_supported": ["client_secret_post"]}
    await signed_in(
        OidcProvider(oidc_settings(issuer, oidc_allowed_subjects="*"), http), http, "alice-sub-1"
    )
    headers, form = proxy.token_requests[-1]
    assert "authorization" not in headers
    assert form["client_id"] == [CLIENT_ID] and form["client_secret"] == [CLIENT_SECRET]


async def test_public_client_sends_no_secret(
    relay: tuple[Relay, str], http: httpx2.AsyncClient
) -> None:
    proxy, issuer = relay
    settings = oidc_settings(issuer, oidc_allowed_subjects="*", oidc_client_secret="")
    # This provider only knows confidential clients, so it refuses; the request is what counts.
    with pytest.raises(UpstreamError, match="HTTP 401 invalid_client") as refused:
        await signed_in(OidcProvider(settings, http), http, "alice-sub-1")
    assert not isinstance(refused.value, UpstreamCodeRefused)  # the gateway's setup: a 502
    headers, form = proxy.token_requests[-1]
    assert "authorization" not in headers and "client_secret" not in form
    assert form["client_id"] == [CLIENT_ID]


async def test_unsupported_client_authentication_is_an_upstream_error(
    relay: tuple[Relay, str], http: httpx2.AsyncClient
) -> None:
    proxy, issuer = relay
    proxy.discovery_extra = {"token_endpoint_auth_methods_supported": ["private_key_jwt"]}
    provider = OidcProvider(oidc_settings(issuer, oidc_allowed_subjects="*"), http)
    with pytest.raises(UpstreamError, match="neither client_secret_basic nor client_secret_post"):
        await signed_in(provider, http, "alice-sub-1")
    assert proxy.token_requests == []


# --- discovery ------------------------------------------------------------------------------


async def test_issuer_must_match_byte_for_byte(
    provider_mock: OidcMock, relay: tuple[Relay, str], http: httpx2.AsyncClient
) -> None:
    slashed = OidcProvider(oidc_settings(provider_mock.issuer + "/"), http)
    with pytest.raises(UpstreamError, match="not the configured"):
        await slashed.start(state="s", redirect_uri=CALLBACK)
    proxy, issuer = relay
    proxy.discovery_extra = {"issuer": "https://idp.example"}
    mixed_up = OidcProvider(oidc_settings(issuer), http)
    with pytest.raises(UpstreamError, match=r"names issuer 'https://idp\.example'"):
        await mixed_up.start(state="s", redirect_uri=CALLBACK)


async def test_unreachable_provider_is_an_upstream_error(http: httpx2.AsyncClient) -> None:
    provider = OidcProvider(oidc_settings(f"http://127.0.0.1:{free_port()}"), http)
    with pytest.raises(UpstreamError, match="discovery unreachable"):
        await provider.start(state="s", redirect_uri=CALLBACK)
    with pytest.raises(UpstreamError, match="discovery unreachable"):
        await provider.finish(code="c", redirect_uri=CALLBACK, code_verifier="v", nonce="n")


async def test_unconfigured_and_built_by_setting(http: httpx2.AsyncClient) -> None:
    provider = build_provider(oidc_settings(""), http)
    assert isinstance(provider, OidcProvider)
    with pytest.raises(UpstreamError, match="OIDC_ISSUER"):
        await provider.start(state="s", redirect_uri=CALLBACK)


def broken_issuer(release: threading.Event) -> Starlette:
    """Issuers under one server (the first path segment names the fault) that misbehave."""

    async def discovery(request: Request) -> Response:
        fault = request.path_params["fault"]
        issuer = f"{str(request.base_url).rstrip('/')}/{fault}"
        if fault == "html":
            return HTMLResponse("<html><body>Sign in with your corporate account</body></html>")
        if fault == "hang":
            await anyio.to_thread.run_sync(release.wait, 10.0)
        doc = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
        }
        if fault == "incomplete":
            del doc["token_endpoint"]
        return JSONResponse(doc)

    async def token(request: Request) -> Response:
        fault = request.path_params["fault"]
        if fault == "badtoken":
            return HTMLResponse("<h1>502 Bad Gateway</h1>", status_code=502)
        id_token = "not-a-jwt" if fault == "notjwt" else jwt.encode({"alg": "RS256"}, {}, FORGER)
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": id_token})

    async def jwks(_: Request) -> Response:
        return JSONResponse({"keys": "none today"})

    return Starlette(
        routes=[
            Route("/{fault}/.well-known/openid-configuration", discovery),
            Route("/{fault}/token", token, methods=["POST"]),
            Route("/{fault}/jwks", jwks),
        ]
    )


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("html", "discovery did not answer JSON"),
        ("incomplete", "discovery document has no token_endpoint"),
        ("hang", "discovery unreachable: ReadTimeout"),
        ("badtoken", r"token endpoint did not answer JSON \(HTTP 502\)"),
        ("notjwt", "ID token is malformed"),
        ("badjwks", "JWKS is not a usable key set"),
    ],
)
async def test_garbage_from_the_provider_is_an_upstream_error(fault: str, message: str) -> None:
    release = threading.Event()
    with serve_app(broken_issuer(release)) as url:
        async with httpx2.AsyncClient(timeout=0.5) as http:
            provider = OidcProvider(oidc_settings(f"{url}/{fault}"), http)
            with pytest.raises(UpstreamError, match=message):
                await provider.finish(code="c", redirect_uri=CALLBACK, code_verifier="v", nonce="n")
        release.set()


async def test_no_token_or_secret_in_the_logs(
    relay: tuple[Relay, str], http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    proxy, issuer = relay
    issued: list[dict[str, Any]] = []

    def keep(tokens: dict[str, Any]) -> dict[str, Any]:
        issued.append(tokens)
        return tokens

    proxy.rewrite_tokens = keep
    provider = OidcProvider(oidc_settings(issuer, oidc_allowed_emails="alice@example.org"), http)
    await signed_in(provider, http, "alice-sub-1")
    with pytest.raises(UserNotAllowed):
        await signed_in(provider, http, "carol-sub-3")
    assert "alice" in caplog.text and "carol" in caplog.text
    assert len(issued) == 2 and CLIENT_SECRET not in caplog.text
    for tokens in issued:
        assert tokens["access_token"] not in caplog.text
        assert tokens["id_token"] not in caplog.text
