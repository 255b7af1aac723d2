"""/verify as Traefik's ForwardAuth calls it: identity headers, challenges, step-up, fail closed."""

from __future__ import annotations

import httpx2
import pytest

from testsupport.authserver import AuthServer, run_auth_server
from testsupport.valkey import ValkeyProcess

pytestmark = pytest.mark.anyio


async def test_no_token_gets_401_with_resource_metadata(auth: AuthServer) -> None:
    answer = await auth.verify(None, "echo-stateless")
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'realm="mcp-gateway"' in challenge
    assert "error=" not in challenge  # RFC 6750 §3.1: no error code without a token
    metadata_url = f"{auth.url}/.well-known/oauth-protected-resource/echo-stateless/mcp"
    assert f'resource_metadata="{metadata_url}"' in challenge
    async with httpx2.AsyncClient() as http:
        metadata = (await http.get(metadata_url)).json()
        server = (
            await http.get(
                f"{metadata['authorization_servers'][0]}/.well-known/oauth-authorization-server"
            )
        ).json()
    assert metadata["resource"] == auth.resource("echo-stateless")
    assert server["issuer"] == auth.url


async def test_bad_token_gets_invalid_token(auth: AuthServer) -> None:
    answer = await auth.verify("not-a-jwt")
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert answer.json()["error"] == "invalid_token"


async def test_missing_scope_gets_403_naming_the_scope_for_step_up(auth: AuthServer) -> None:
    client = await auth.register()
    plain = await auth.login(client, service="fetch", scope="mcp")
    answer = await auth.verify(plain["access_token"], "fetch")
    assert answer.status_code == 403
    challenge = answer.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and "mcp:fetch" in challenge
    assert "resource_metadata=" in challenge
    stepped_up = await auth.login(client, service="fetch", scope="mcp mcp:fetch")
    ok = await auth.verify(stepped_up["access_token"], "fetch")
    assert ok.status_code == 200 and ok.headers["x-scopes"] == "mcp mcp:fetch"


async def test_401_for_a_scoped_service_names_its_scope(auth: AuthServer) -> None:
    answer = await auth.verify(None, "fetch")
    assert 'scope="mcp:fetch"' in answer.headers["www-authenticate"]


async def test_preflight_passes_without_a_token(auth: AuthServer) -> None:
    answer = await auth.verify(None, **{"X-Forwarded-Method": "OPTIONS"})
    assert answer.status_code == 200


async def test_token_for_another_host_is_refused(auth: AuthServer) -> None:
    client = await auth.register()
    tokens = await auth.login(client)
    answer = await auth.verify(tokens["access_token"], **{"X-Forwarded-Host": "evil.example"})
    assert answer.status_code == 401


async def test_unknown_service_is_not_authorized(auth: AuthServer) -> None:
    client = await auth.register()
    tokens = await auth.login(client)
    answer = await auth.verify(tokens["access_token"], "admin")
    assert answer.status_code == 404


async def test_redis_down_fails_closed_with_503(tmp_path_factory: pytest.TempPathFactory) -> None:
    valkey = ValkeyProcess(tmp_path_factory.mktemp("valkey-down")).start()
    try:
        with run_auth_server(valkey.url) as auth:
            client = await auth.register()
            tokens = await auth.login(client)
            assert (await auth.verify(tokens["access_token"])).status_code == 200
            valkey.stop()
            answer = await auth.verify(tokens["access_token"])
            assert answer.status_code == 503
            assert answer.json()["error"] == "temporarily_unavailable"
            async with httpx2.AsyncClient() as http:
                health = await http.get(f"{auth.url}/health")
                register = await http.post(
                    f"{auth.url}/register", json={"redirect_uris": ["http://127.0.0.1/cb"]}
                )
            assert health.status_code == 503
            assert register.status_code == 503
    finally:
        valkey.stop()
