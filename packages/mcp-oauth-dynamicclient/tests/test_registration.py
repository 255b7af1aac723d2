"""RFC 7591 registration and RFC 7592 management, over HTTP against real Valkey."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx2
import pytest

from testsupport.authserver import AuthServer, run_auth_server
from testsupport.oauth_client import CLIENT_REDIRECT
from testsupport.valkey import ValkeyProcess

pytestmark = pytest.mark.anyio


async def post(auth: AuthServer, body: Any, **kwargs: Any) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(f"{auth.url}/register", json=body, **kwargs)


async def test_public_client_gets_no_secret(auth: AuthServer) -> None:
    response = await post(
        auth, {"redirect_uris": [CLIENT_REDIRECT], "token_endpoint_auth_method": "none"}
    )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert "client_secret" not in body
    assert body["client_id_issued_at"] <= time.time()
    assert body["registration_client_uri"] == f"{auth.url}/register/{body['client_id']}"
    assert len(body["registration_access_token"]) >= 40
    # 128 random bits, and never a leading "-" that `mcp-oauth-server clients show` would
    # take for an option (a base64url id did, one time in 64).
    assert re.fullmatch(r"[0-9a-f]{32}", body["client_id"])


async def test_confidential_client_gets_secret_that_never_expires_by_default(
    auth: AuthServer,
) -> None:
    response = await post(auth, {"redirect_uris": ["https://app.example/cb"], "client_name": "A"})
    body = response.json()
    assert body["token_endpoint_auth_method"] == "client_secret_basic"  # RFC 7591 default
    assert len(body["client_secret"]) >= 40 and body["client_secret_expires_at"] == 0
    assert body["client_name"] == "A"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://app.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example/cb#frag"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://*.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://u:p@app.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": [42]}, "invalid_redirect_uri"),
        ({"redirect_uris": [" https://app.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.exa\nmple/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example/c\tb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example/cb\x00"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://bücher.example/cb"]}, "invalid_redirect_uri"),
        (
            {"redirect_uris": [CLIENT_REDIRECT], "grant_types": ["client_credentials"]},
            "invalid_client_metadata",
        ),
        (
            {"redirect_uris": [CLIENT_REDIRECT], "grant_types": ["refresh_token"]},
            "invalid_client_metadata",
        ),
        (
            {"redirect_uris": [CLIENT_REDIRECT], "response_types": ["token"]},
            "invalid_client_metadata",
        ),
        (
            {"redirect_uris": [CLIENT_REDIRECT], "token_endpoint_auth_method": "private_key_jwt"},
            "invalid_client_metadata",
        ),
        ({"redirect_uris": [CLIENT_REDIRECT], "scope": "admin"}, "invalid_client_metadata"),
        ({"redirect_uris": [CLIENT_REDIRECT], "client_name": 7}, "invalid_client_metadata"),
        ([1, 2], "invalid_client_metadata"),
    ],
)
async def test_bad_metadata_gets_rfc7591_errors(auth: AuthServer, body: Any, error: str) -> None:
    response = await post(auth, body)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]


async def test_loopback_redirects_accept_any_port_and_name(auth: AuthServer) -> None:
    for uri in ("http://127.0.0.1/cb", "http://localhost:1234/cb", "http://[::1]:9/cb"):
        assert (await post(auth, {"redirect_uris": [uri]})).status_code == 201, uri


async def test_malformed_json_is_a_clear_400(auth: AuthServer) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{auth.url}/register",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400 and response.json()["error"] == "invalid_client_metadata"


async def test_deeply_nested_json_is_a_clear_400(auth: AuthServer) -> None:
    """Deeper than Python's recursion limit, well inside the size limit: not a 500."""
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{auth.url}/register",
            content=b'{"redirect_uris": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_client_metadata",
        "error_description": "the body is nested too deeply",
    }


async def test_initial_access_token_gates_registration(valkey_server: ValkeyProcess) -> None:
    with run_auth_server(
        valkey_server.url, registration_initial_access_token="let-me-in-please"
    ) as auth:
        body = {"redirect_uris": [CLIENT_REDIRECT]}
        assert (await post(auth, body)).status_code == 401
        wrong = await post(auth, body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await post(auth, body, headers={"Authorization": "Bearer let-me-in-please"})
        assert right.status_code == 201


async def test_secret_lifetime_is_configurable(valkey_server: ValkeyProcess) -> None:
    with run_auth_server(valkey_server.url, client_secret_lifetime=3600) as auth:
        body = (await post(auth, {"redirect_uris": [CLIENT_REDIRECT]})).json()
        assert body["client_secret_expires_at"] == pytest.approx(time.time() + 3600, abs=10)


async def test_rfc7592_read_update_delete(auth: AuthServer) -> None:
    client = await auth.register(client_name="Before")
    uri = client.body["registration_client_uri"]
    bearer = {"Authorization": f"Bearer {client.body['registration_access_token']}"}
    async with httpx2.AsyncClient() as http:
        read = await http.get(uri, headers=bearer)
        assert read.status_code == 200 and read.json()["client_name"] == "Before"
        update = {
            "client_id": client.client_id,
            "redirect_uris": ["http://127.0.0.1/new"],
            "client_name": "After",
            "token_endpoint_auth_method": "none",
        }
        updated = await http.put(uri, json=update, headers=bearer)
        assert updated.status_code == 200 and updated.json()["client_name"] == "After"
        assert updated.json()["redirect_uris"] == ["http://127.0.0.1/new"]
        bad = await http.put(
            uri, json={**update, "redirect_uris": ["http://x.example/"]}, headers=bearer
        )
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_redirect_uri"
        renamed = await http.put(uri, json={**update, "client_id": "other"}, headers=bearer)
        assert renamed.status_code == 400
        assert (await http.get(uri, headers=bearer)).json()["client_id"] == client.client_id
        deleted = await http.delete(uri, headers=bearer)
        assert deleted.status_code == 204
        assert (await http.get(uri, headers=bearer)).status_code == 401


async def test_rfc7592_without_the_right_token_reveals_nothing(auth: AuthServer) -> None:
    client = await auth.register()
    uri = client.body["registration_client_uri"]
    async with httpx2.AsyncClient() as http:
        missing = await http.get(uri)
        wrong = await http.get(uri, headers={"Authorization": "Bearer wrong"})
        absent = await http.get(
            f"{auth.url}/register/no-such-client", headers={"Authorization": "Bearer wrong"}
        )
        delete = await http.delete(uri, headers={"Authorization": "Bearer wrong"})
    assert missing.status_code == wrong.status_code == absent.status_code == 401
    assert delete.status_code == 401
    assert wrong.json() == absent.json()  # no hint whether the client exists


async def test_deleting_a_client_revokes_its_tokens(auth: AuthServer) -> None:
    client = await auth.register(grant_types=["authorization_code", "refresh_token"])
    tokens = await auth.login(client)
    assert (await auth.verify(tokens["access_token"])).status_code == 200
    async with httpx2.AsyncClient() as http:
        await http.delete(
            client.body["registration_client_uri"],
            headers={"Authorization": f"Bearer {client.body['registration_access_token']}"},
        )
    assert (await auth.verify(tokens["access_token"])).status_code == 401
    refreshed = await auth.token(
        {
            "grant_type": "refresh_token",
            "client_id": client.client_id,
            "refresh_token": tokens["refresh_token"],
        }
    )
    assert refreshed.status_code == 401 and refreshed.json()["error"] == "invalid_client"


async def test_secrets_are_stored_only_as_digests(
    auth: AuthServer, valkey_server: ValkeyProcess
) -> None:
    import redis.asyncio as redis

    client = await auth.register(
        token_endpoint_auth_method="client_secret_post",
        grant_types=["authorization_code", "refresh_token"],
    )
    tokens = await auth.login(client)
    connection = redis.Redis.from_url(valkey_server.url, decode_responses=True)
    try:
        dump = []
        async for key in connection.scan_iter(match=auth.settings.redis_key_prefix + "*"):
            dump.append(key)
            if await connection.type(key) == "string":
                dump.append(await connection.get(key) or "")
        text = "\n".join(dump)
    finally:
        await connection.aclose()
    for secret in (
        client.secret,
        client.body["registration_access_token"],
        tokens["refresh_token"],
    ):
        assert secret not in text
