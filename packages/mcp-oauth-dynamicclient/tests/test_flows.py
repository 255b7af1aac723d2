"""Whole authorization-code flows over HTTP: public and confidential clients, refresh, consent."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from testsupport.authserver import AuthServer
from testsupport.github_standin import sign_in as github_sign_in
from testsupport.oauth_browser import hidden_fields
from testsupport.oauth_client import CLIENT_REDIRECT, pkce_pair

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("method", ["none", "client_secret_basic", "client_secret_post"])
async def test_full_flow_for_every_client_kind(auth: AuthServer, method: str) -> None:
    client = await auth.register(
        token_endpoint_auth_method=method, grant_types=["authorization_code", "refresh_token"]
    )
    assert ("client_secret" in client.body) == (method != "none")
    tokens = await auth.login(client)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == auth.settings.access_token_lifetime
    verified = await auth.verify(tokens["access_token"])
    assert verified.status_code == 200
    assert verified.headers["x-user-id"] == "github:1001"
    assert verified.headers["x-user-name"] == "alice"
    assert verified.headers["x-client-id"] == client.client_id
    assert verified.headers["x-scopes"] == "mcp"


async def test_redirect_carries_code_state_and_issuer(auth: AuthServer) -> None:
    client = await auth.register()
    _, challenge = pkce_pair()
    where = await auth.approve(auth.authorize_url(client.client_id, challenge, state="xyz-42"))
    assert str(where).startswith(CLIENT_REDIRECT)
    assert where.params["state"] == "xyz-42"
    assert where.params["iss"] == auth.url  # RFC 9207: the client can detect mix-up
    assert len(where.params["code"]) >= 40


async def test_consent_page_names_client_redirect_host_and_user(auth: AuthServer) -> None:
    client = await auth.register(client_name="Inspector <script>")
    _, challenge = pkce_pair()
    first = await auth.browser.get(auth.authorize_url(client.client_id, challenge))
    assert first.status_code == 200
    assert "Inspector &lt;script&gt;" in first.text  # escaped, never raw
    assert "127.0.0.1:53682" in first.text
    assert "not signed in yet" in first.text
    assert first.headers["x-frame-options"] == "DENY"
    await auth.approve(auth.authorize_url(client.client_id, challenge))
    # Signed in now: a second client's consent page names the user.
    other = await auth.register(client_name="Second app")
    page = await auth.browser.get(auth.authorize_url(other.client_id, challenge))
    assert "signed in as <strong>alice</strong>" in page.text


async def test_consent_is_remembered_per_user_and_client(auth: AuthServer) -> None:
    client = await auth.register()
    await auth.login(client)
    _, challenge = pkce_pair()
    again = await auth.browser.get(auth.authorize_url(client.client_id, challenge))
    assert again.status_code == 302  # no page: straight back to the client with a code
    assert "code" in httpx2.URL(again.headers["location"]).params
    # Another browser (not signed in) is asked again.
    other = auth.new_browser()
    fresh = await other.get(auth.authorize_url(client.client_id, challenge))
    assert fresh.status_code == 200 and "<form" in fresh.text


async def test_denying_consent_tells_the_client(auth: AuthServer) -> None:
    client = await auth.register()
    _, challenge = pkce_pair()
    page = await auth.browser.get(auth.authorize_url(client.client_id, challenge, state="s1"))
    fields = dict(
        request_id=page.text.split('name="request_id" value="')[1].split('"')[0],
        csrf_token=page.text.split('name="csrf_token" value="')[1].split('"')[0],
    )
    denied = await auth.browser.post(f"{auth.url}/consent", data={**fields, "decision": "deny"})
    where = httpx2.URL(denied.headers["location"])
    assert where.params["error"] == "access_denied" and where.params["state"] == "s1"


@pytest.mark.parametrize("guess", ["guessed", "ünïcödé", ""])
async def test_consent_needs_the_csrf_token(auth: AuthServer, guess: str) -> None:
    client = await auth.register()
    _, challenge = pkce_pair()
    page = await auth.browser.get(auth.authorize_url(client.client_id, challenge))
    request_id = page.text.split('name="request_id" value="')[1].split('"')[0]
    forged = await auth.browser.post(
        f"{auth.url}/consent",
        data={"request_id": request_id, "csrf_token": guess, "decision": "approve"},
    )
    assert forged.status_code == 403
    assert "security token did not match" in forged.text


async def test_a_code_the_provider_refuses_is_a_400_page_not_a_502(auth: AuthServer) -> None:
    """A changed, old or used upstream code is the browser's problem; 502 means ours."""
    client = await auth.register()
    _, challenge = pkce_pair()
    page = await auth.browser.get(auth.authorize_url(client.client_id, challenge))
    consented = await auth.browser.post(
        f"{auth.url}/consent", data={**hidden_fields(page.text), "decision": "approve"}
    )
    back = await github_sign_in(auth.browser, consented.headers["location"], "alice")
    changed = back.copy_set_param("code", "not-the-code-github-issued")
    answer = await auth.browser.get(str(changed))
    assert answer.status_code == 400
    assert "Sign-in failed" in answer.text and "bad_verification_code" in answer.text
    assert "location" not in answer.headers


async def test_refresh_rotates_and_a_quick_retry_gets_the_same_successor(auth: AuthServer) -> None:
    client = await auth.register(grant_types=["authorization_code", "refresh_token"])
    tokens = await auth.login(client)
    refresh = {"grant_type": "refresh_token", "client_id": client.client_id}
    first = await auth.token({**refresh, "refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    assert first.json()["refresh_token"] != tokens["refresh_token"]
    retry = await auth.token({**refresh, "refresh_token": tokens["refresh_token"]})
    assert retry.status_code == 200
    assert retry.json()["refresh_token"] == first.json()["refresh_token"]
    # The successor works, and rotates on.
    second = await auth.token({**refresh, "refresh_token": first.json()["refresh_token"]})
    assert second.status_code == 200
    assert (await auth.verify(second.json()["access_token"])).status_code == 200


async def test_concurrent_refreshes_of_one_token_all_succeed_with_one_successor(
    auth: AuthServer,
) -> None:
    client = await auth.register(grant_types=["authorization_code", "refresh_token"])
    tokens = await auth.login(client)
    data = {
        "grant_type": "refresh_token",
        "client_id": client.client_id,
        "refresh_token": tokens["refresh_token"],
    }
    answers = await asyncio.gather(*(auth.token(data) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    assert len({a.json()["refresh_token"] for a in answers}) == 1


async def test_refresh_can_narrow_but_not_widen_scope(auth: AuthServer) -> None:
    client = await auth.register(grant_types=["authorization_code", "refresh_token"])
    tokens = await auth.login(client, service="fetch", scope="mcp mcp:fetch")
    data = {"grant_type": "refresh_token", "client_id": client.client_id}
    narrowed = await auth.token({**data, "refresh_token": tokens["refresh_token"], "scope": "mcp"})
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "mcp"
    wider = await auth.token(
        {**data, "refresh_token": narrowed.json()["refresh_token"], "scope": "mcp admin"}
    )
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


async def test_revocation_takes_effect_at_verify(auth: AuthServer) -> None:
    client = await auth.register(grant_types=["authorization_code", "refresh_token"])
    tokens = await auth.login(client)
    async with httpx2.AsyncClient() as http:
        revoked = await http.post(
            f"{auth.url}/revoke",
            data={"token": tokens["access_token"], "client_id": client.client_id},
        )
    assert revoked.status_code == 200
    answer = await auth.verify(tokens["access_token"])
    assert answer.status_code == 401 and "revoked" in answer.headers["www-authenticate"]
    # Revoking the refresh token ends the family: refresh fails.
    async with httpx2.AsyncClient() as http:
        await http.post(
            f"{auth.url}/revoke",
            data={"token": tokens["refresh_token"], "client_id": client.client_id},
        )
    refreshed = await auth.token(
        {
            "grant_type": "refresh_token",
            "client_id": client.client_id,
            "refresh_token": tokens["refresh_token"],
        }
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


async def test_introspection_for_confidential_clients(auth: AuthServer) -> None:
    client = await auth.register(token_endpoint_auth_method="client_secret_basic")
    tokens = await auth.login(client)
    async with httpx2.AsyncClient() as http:
        active = await http.post(
            f"{auth.url}/introspect",
            data={"token": tokens["access_token"]},
            auth=(client.client_id, client.secret),
        )
        junk = await http.post(
            f"{auth.url}/introspect", data={"token": "junk"}, auth=(client.client_id, client.secret)
        )
        missing = await http.post(
            f"{auth.url}/introspect", data={"x": "1"}, auth=(client.client_id, client.secret)
        )
        public = await auth.register()
        refused = await http.post(
            f"{auth.url}/introspect",
            data={"token": tokens["access_token"], "client_id": public.client_id},
        )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    body = active.json()
    assert body["active"] is True and body["sub"] == "github:1001"
    assert body["aud"] == auth.resource() and body["client_id"] == client.client_id
    assert junk.json() == {"active": False}
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


async def test_user_not_on_the_allow_list_gets_a_clear_403(auth: AuthServer) -> None:
    client = await auth.register()
    _, challenge = pkce_pair()
    page = await auth.browser.get(auth.authorize_url(client.client_id, challenge))
    consented = await auth.browser.post(
        f"{auth.url}/consent", data={**_fields(page.text), "decision": "approve"}
    )
    from testsupport.github_standin import sign_in

    back = await sign_in(auth.browser, consented.headers["location"], "mallory")
    refused = await auth.browser.get(str(back))
    assert refused.status_code == 403
    assert "mallory" in refused.text and "not allowed" in refused.text


def _fields(html: str) -> dict[str, str]:
    from testsupport.oauth_browser import hidden_fields

    return hidden_fields(html)


async def test_redirect_uri_may_be_left_out_when_only_one_is_registered(auth: AuthServer) -> None:
    """RFC 6749 §4.1.3: /token repeats redirect_uri only if /authorize named it."""
    client = await auth.register()
    verifier, challenge = pkce_pair()
    full = httpx2.URL(auth.authorize_url(client.client_id, challenge))
    url = str(full.copy_remove_param("redirect_uri"))
    assert "redirect_uri" not in url
    where = await auth.approve(url)
    assert str(where).startswith(CLIENT_REDIRECT)
    answer = await auth.token(
        {
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "code": where.params["code"],
            "code_verifier": verifier,
        }
    )
    assert answer.status_code == 200, answer.text
