"""RFC 8414 and RFC 9728 metadata, JWKS, health; a restart loses nothing."""

from __future__ import annotations

import base64
import json

import httpx2
import pytest

from testsupport.authserver import AuthServer, run_auth_server
from testsupport.valkey import ValkeyProcess

pytestmark = pytest.mark.anyio


async def get(url: str) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.get(url)


async def test_authorization_server_metadata(auth: AuthServer) -> None:
    answer = await get(f"{auth.url}/.well-known/oauth-authorization-server")
    assert answer.headers["cache-control"] == "no-store"
    meta = answer.json()
    assert meta["issuer"] == auth.url  # byte for byte what discovery was fetched from
    for endpoint in ("authorize", "token", "register", "revoke", "introspect", "jwks"):
        key = {"authorize": "authorization_endpoint", "jwks": "jwks_uri"}.get(
            endpoint,
            {"revoke": "revocation_endpoint", "introspect": "introspection_endpoint"}.get(
                endpoint,
                f"{endpoint}_endpoint" if endpoint != "register" else "registration_endpoint",
            ),
        )
        assert meta[key] == f"{auth.url}/{endpoint}"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "none",
        "client_secret_basic",
        "client_secret_post",
    }
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["client_id_metadata_document_supported"] is True
    assert meta["scopes_supported"] == ["mcp", "mcp:fetch"]


@pytest.mark.parametrize("service", ["echo-stateless", "echo-stateful", "fetch"])
async def test_protected_resource_metadata_per_service(auth: AuthServer, service: str) -> None:
    meta = (await get(f"{auth.url}/.well-known/oauth-protected-resource/{service}/mcp")).json()
    assert meta["resource"] == f"{auth.url}/{service}/mcp"
    assert meta["authorization_servers"] == [auth.url]
    assert meta["bearer_methods_supported"] == ["header"]
    assert meta["scopes_supported"] == (["mcp:fetch"] if service == "fetch" else ["mcp"])


async def test_protected_resource_metadata_at_the_root_and_unknown(auth: AuthServer) -> None:
    root = (await get(f"{auth.url}/.well-known/oauth-protected-resource")).json()
    assert root["authorization_servers"] == [auth.url]
    missing = await get(f"{auth.url}/.well-known/oauth-protected-resource/nope/mcp")
    assert missing.status_code == 404


async def test_jwks_publishes_the_signing_key(auth: AuthServer) -> None:
    client = await auth.register()
    tokens = await auth.login(client)
    keys = (await get(f"{auth.url}/jwks")).json()["keys"]
    kid = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[0] + "=="))["kid"]
    assert [k["kid"] for k in keys] == [kid]
    assert keys[0]["kty"] == "RSA" and "d" not in keys[0]


async def test_health(auth: AuthServer) -> None:
    answer = await get(f"{auth.url}/health")
    assert answer.status_code == 200 and answer.json()["redis"] == "ok"


async def test_a_restart_loses_nothing(valkey_server: ValkeyProcess) -> None:
    with run_auth_server(valkey_server.url, redis_key_prefix="restart-test:") as auth:
        client = await auth.register(grant_types=["authorization_code", "refresh_token"])
        tokens = await auth.login(client)
    port = httpx2.URL(auth.url).port
    with run_auth_server(valkey_server.url, port=port, redis_key_prefix="restart-test:") as again:
        answer = await again.verify(tokens["access_token"])
        assert answer.status_code == 200
        refreshed = await again.token(
            {
                "grant_type": "refresh_token",
                "client_id": client.client_id,
                "refresh_token": tokens["refresh_token"],
            }
        )
        assert refreshed.status_code == 200


async def test_hs256_is_selectable(valkey_server: ValkeyProcess) -> None:
    with run_auth_server(valkey_server.url, jwt_algorithm="HS256", jwt_secret="x" * 40) as auth:
        client = await auth.register()
        tokens = await auth.login(client)
        header = tokens["access_token"].split(".")[0]
        assert json.loads(base64.urlsafe_b64decode(header + "=="))["alg"] == "HS256"
        assert (await auth.verify(tokens["access_token"])).status_code == 200
        assert (await get(f"{auth.url}/jwks")).json() == {"keys": []}
