"""The attacks of the OAuth security BCP (RFC 9700), each refused, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import anyio
import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from mcp_oauth_dynamicclient.keys import load_signing_keys
from mcp_oauth_dynamicclient.storage import Store
from mcp_oauth_dynamicclient.tokens import AccessTokens, Grant

from testsupport.authserver import AuthServer, run_auth_server
from testsupport.github_standin import sign_in
from testsupport.oauth_browser import hidden_fields
from testsupport.oauth_client import CLIENT_REDIRECT, pkce_pair
from testsupport.valkey import ValkeyProcess

pytestmark = pytest.mark.anyio


async def code_for(auth: AuthServer, client_id: str, challenge: str) -> str:
    where = await auth.approve(auth.authorize_url(client_id, challenge))
    return where.params["code"]


def exchange(client_id: str, code: str, verifier: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": CLIENT_REDIRECT,
        "code_verifier": verifier,
        **extra,
    }


async def test_code_replay_fails_and_revokes_what_the_code_issued(auth: AuthServer) -> None:
    client = await auth.register(grant_types=["authorization_code", "refresh_token"])
    verifier, challenge = pkce_pair()
    code = await code_for(auth, client.client_id, challenge)
    first = await auth.token(exchange(client.client_id, code, verifier))
    assert first.status_code == 200
    replay = await auth.token(exchange(client.client_id, code, verifier))
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert (await auth.verify(first.json()["access_token"])).status_code == 401
    refresh = await auth.token(
        {
            "grant_type": "refresh_token",
            "client_id": client.client_id,
            "refresh_token": first.json()["refresh_token"],
        }
    )
    assert refresh.status_code == 400


async def test_pkce_plain_and_missing_challenge_are_refused(auth: AuthServer) -> None:
    client = await auth.register()
    _, challenge = pkce_pair()
    for extra, fragment in (
        ({"code_challenge_method": "plain"}, "S256"),
        ({"code_challenge": ""}, "PKCE"),
    ):
        url = auth.authorize_url(client.client_id, challenge, **extra)
        answer = await auth.browser.get(url)
        where = httpx2.URL(answer.headers["location"])
        assert where.params["error"] == "invalid_request"
        assert fragment in where.params["error_description"]


async def test_missing_or_wrong_verifier_is_refused(auth: AuthServer) -> None:
    client = await auth.register()
    _, challenge = pkce_pair()
    code = await code_for(auth, client.client_id, challenge)
    missing = await auth.token(exchange(client.client_id, code, ""))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    code = await code_for(auth, client.client_id, challenge)
    other_verifier, _ = pkce_pair()
    wrong = await auth.token(exchange(client.client_id, code, other_verifier))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


async def test_redirect_uri_mismatch_gets_an_error_page_never_a_redirect(auth: AuthServer) -> None:
    client = await auth.register()
    _, challenge = pkce_pair()
    for evil in (
        "https://evil.example/cb",
        "http://127.0.0.1:53682/other",
        CLIENT_REDIRECT + "?x=1",
    ):
        answer = await auth.browser.get(
            auth.authorize_url(client.client_id, challenge, redirect_uri=evil)
        )
        assert answer.status_code == 400, evil
        assert "location" not in answer.headers
        assert "evil.example" not in answer.text


async def test_unknown_client_gets_an_error_page(auth: AuthServer) -> None:
    _, challenge = pkce_pair()
    answer = await auth.browser.get(auth.authorize_url("nobody", challenge))
    assert answer.status_code == 400 and "location" not in answer.headers


async def test_loopback_redirect_on_another_port_is_the_same_client(auth: AuthServer) -> None:
    client = await auth.register()
    verifier, challenge = pkce_pair()
    other_port = "http://localhost:40001/callback"
    where = await auth.approve(
        auth.authorize_url(client.client_id, challenge, redirect_uri=other_port)
    )
    assert str(where).startswith(other_port)
    token = await auth.token(
        exchange(client.client_id, where.params["code"], verifier, redirect_uri=other_port)
    )
    assert token.status_code == 200


async def test_token_request_with_another_redirect_uri_fails(auth: AuthServer) -> None:
    client = await auth.register(redirect_uris=[CLIENT_REDIRECT, "https://app.example/cb"])
    verifier, challenge = pkce_pair()
    code = await code_for(auth, client.client_id, challenge)
    answer = await auth.token(
        exchange(client.client_id, code, verifier, redirect_uri="https://app.example/cb")
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


async def test_code_of_another_client_is_refused(auth: AuthServer) -> None:
    victim = await auth.register()
    attacker = await auth.register()
    verifier, challenge = pkce_pair()
    code = await code_for(auth, victim.client_id, challenge)
    stolen = await auth.token(exchange(attacker.client_id, code, verifier))
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"


async def test_resource_must_be_one_of_ours(auth: AuthServer) -> None:
    client = await auth.register()
    _, challenge = pkce_pair()
    for resource in ("https://evil.example/mcp", f"{auth.url}/unknown/mcp"):
        answer = await auth.browser.get(
            auth.authorize_url(client.client_id, challenge, resource=resource)
        )
        assert httpx2.URL(answer.headers["location"]).params["error"] == "invalid_target"


async def test_wrong_audience_token_does_not_open_another_service(auth: AuthServer) -> None:
    client = await auth.register()
    tokens = await auth.login(client, service="echo-stateless")
    assert (await auth.verify(tokens["access_token"], "echo-stateless")).status_code == 200
    other = await auth.verify(tokens["access_token"], "echo-stateful")
    assert other.status_code == 401
    assert 'error="invalid_token"' in other.headers["www-authenticate"]


async def test_refresh_token_of_another_client_is_refused(auth: AuthServer) -> None:
    victim = await auth.register(grant_types=["authorization_code", "refresh_token"])
    attacker = await auth.register(grant_types=["authorization_code", "refresh_token"])
    tokens = await auth.login(victim)
    stolen = await auth.token(
        {
            "grant_type": "refresh_token",
            "client_id": attacker.client_id,
            "refresh_token": tokens["refresh_token"],
        }
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"


async def test_refresh_reuse_after_the_grace_window_revokes_the_family(
    valkey_server: ValkeyProcess,
) -> None:
    with run_auth_server(valkey_server.url, refresh_token_grace_seconds=1) as auth:
        client = await auth.register(grant_types=["authorization_code", "refresh_token"])
        tokens = await auth.login(client)
        data = {"grant_type": "refresh_token", "client_id": client.client_id}
        successor = await auth.token({**data, "refresh_token": tokens["refresh_token"]})
        assert successor.status_code == 200
        await anyio.sleep(1.5)  # past the grace window
        reuse = await auth.token({**data, "refresh_token": tokens["refresh_token"]})
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
        # The whole family is gone: the successor no longer refreshes or verifies.
        after = await auth.token({**data, "refresh_token": successor.json()["refresh_token"]})
        assert after.status_code == 400
        assert (await auth.verify(successor.json()["access_token"])).status_code == 401


async def test_captured_upstream_url_cannot_sign_a_victim_into_the_attackers_client(
    auth: AuthServer,
) -> None:
    """CVE-2026-27124: the attacker consents, captures the upstream URL, sends it to a victim."""
    attacker_client = await auth.register()
    _, challenge = pkce_pair()
    attacker = auth.new_browser()
    page = await attacker.get(auth.authorize_url(attacker_client.client_id, challenge))
    consented = await attacker.post(
        f"{auth.url}/consent", data={**hidden_fields(page.text), "decision": "approve"}
    )
    upstream_url = consented.headers["location"]  # captured, never followed by the attacker
    victim = auth.new_browser()
    back_to_gateway = await sign_in(victim, upstream_url, "alice")  # the victim signs in upstream
    answer = await victim.get(str(back_to_gateway))
    assert answer.status_code == 403
    assert "location" not in answer.headers  # no code for the attacker's client
    assert "another browser" in answer.text


async def _signed(auth: AuthServer) -> AccessTokens:
    store = Store.from_url(auth.settings.redis_url, auth.settings.redis_key_prefix)
    keys = await load_signing_keys(auth.settings, store)
    await store.close()
    return AccessTokens(keys, auth.settings.gateway_issuer, 3600)


def _grant(auth: AuthServer) -> Grant:
    return Grant("github:1001", "alice", "some-client", "mcp", auth.resource(), "fam")


async def test_expired_token_is_refused(auth: AuthServer) -> None:
    tokens = await _signed(auth)
    tokens.lifetime = -120
    expired, _ = tokens.mint(_grant(auth))
    answer = await auth.verify(expired)
    assert answer.status_code == 401 and "expired" in answer.headers["www-authenticate"]


async def test_a_token_accepted_before_is_refused_once_expired_or_elsewhere(
    auth: AuthServer,
) -> None:
    """/verify remembers tokens it has verified: never past their expiry, never for
    another resource."""
    tokens = await _signed(auth)
    tokens.lifetime = -28  # within the 30 s leeway for two more seconds
    short, _ = tokens.mint(_grant(auth))
    assert (await auth.verify(short)).status_code == 200
    assert (await auth.verify(short, "echo-stateful")).status_code == 401
    await anyio.sleep(3)
    answer = await auth.verify(short)
    assert answer.status_code == 401 and "expired" in answer.headers["www-authenticate"]


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_alg_none_tampering_and_key_confusion_are_refused(auth: AuthServer) -> None:
    tokens = await _signed(auth)
    good, claims = tokens.mint(_grant(auth))
    assert (await auth.verify(good)).status_code == 200
    header, payload, signature = good.split(".")
    none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    tampered_claims = {**claims, "sub": "github:1"}
    tampered = f"{header}.{_b64(tampered_claims)}.{signature}"
    # HS256 signed with the RSA public key as the HMAC secret.
    public_pem = RSAKey.import_key(tokens.keys.current.as_dict(private=False)).as_pem()
    # (joserfc refuses to build such a key, so the attacker signs by hand.)
    signing_input = f"{_b64({'alg': 'HS256', 'kid': tokens.keys.kid})}.{payload}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    confused = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    foreign = jwt.encode(
        {"alg": "RS256", "kid": tokens.keys.kid}, claims, RSAKey.generate_key(2048)
    )
    for forged in (none, tampered, confused, foreign, "garbage", good + "x"):
        answer = await auth.verify(forged)
        assert answer.status_code == 401, forged
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


async def test_token_from_another_issuer_is_refused(auth: AuthServer) -> None:
    tokens = await _signed(auth)
    tokens.issuer = "https://other-gateway.example"
    foreign, _ = tokens.mint(_grant(auth))
    assert (await auth.verify(foreign)).status_code == 401
