"""schemathesis against the running auth service and its own /openapi.json.

The service runs for real on a loopback port against a real Valkey, signing
users in through the GitHub stand-in. schemathesis takes the description the
service serves, generates requests for every operation (valid ones, and ones
that break the description on purpose), sends them over HTTP and checks each
answer: never a 5xx, a documented status, the documented media type, required
headers, a body matching the documented schema, and invalid input refused.

Random strings rarely get past the first check of an OAuth endpoint, so part
of the generated requests carry real credentials instead of random ones: a
registered client's id and registration access token, an access token for
/verify with the forwarded headers Traefik would send, a refresh token, a
confidential client's Basic credentials. Those reach the code behind the
checks. Client ID Metadata Documents are off here (an `https://` client id
would be fetched; that path has its own tests), and so are the rate limits
(test_policy_and_limits.py).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.openapi import openapi_description
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from testsupport.authserver import AuthServer, run_auth_server
from testsupport.github_standin import sign_in as github_sign_in
from testsupport.oauth_browser import hidden_fields
from testsupport.oauth_client import CLIENT_REDIRECT, pkce_pair
from testsupport.oauth_client import login as oauth_login
from testsupport.valkey import ValkeyProcess

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def invalid_requests_are_refused(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """schemathesis's negative_data_rejection, except where OAuth itself says to redirect.

    Once /authorize has a known client and one of its redirect URIs, errors in
    the other parameters go back to the client as a redirect (RFC 6749
    §4.1.2.1); `redirects_go_only_to_the_client` checks where those go.
    """
    if case.operation.path == "/authorize" and response.status_code == 302:
        return None
    return negative_data_rejection(ctx, response, case)


def redirects_go_only_to_the_client(
    ctx: CheckContext, response: Response, case: Case
) -> bool | None:
    """Every redirect back to a client goes to a URI it registered, with `iss` and a result."""
    if case.operation.path not in ("/authorize", "/consent", "/callback"):
        return None
    if response.status_code != 302:
        return None
    (location,) = response.headers["location"]
    target = httpx2.URL(location)
    # Every client here registered CLIENT_REDIRECT; loopback matches on any port and name.
    assert (target.scheme, target.host, target.path) in {
        ("http", host, "/callback") for host in LOOPBACK
    }, f"redirected to {location}"
    asked = httpx2.URL(str(response.request.url))
    assert target.params.get("iss") == f"{asked.scheme}://{asked.netloc.decode()}", location
    assert "code" in target.params or "error" in target.params, location
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    invalid_requests_are_refused,
    redirects_go_only_to_the_client,
]


@dataclass
class Credentials:
    """Real values to put into generated requests, and ways to make fresh ones."""

    auth: AuthServer
    public: dict[str, Any]  # a public client's registration
    confidential: dict[str, Any]  # a client_secret_basic one
    access_token: str  # for echo-stateless, issued to the confidential client
    refresh_token: str  # the confidential client's, rotated as the test goes

    def basic(self) -> str:
        pair = f"{self.confidential['client_id']}:{self.confidential['client_secret']}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def fresh_client(self) -> dict[str, Any]:
        """A client of its own, for a request that may delete or change it."""
        return asyncio.run(self.auth.register()).body

    def fresh_access_token(self) -> str:
        """One of the confidential client's tokens that may be revoked."""

        async def login() -> str:
            async with self.auth.new_browser() as browser:
                tokens = await oauth_login(
                    self.auth.url, self.auth.resource(), client=self.confidential, browser=browser
                )
            return str(tokens["access_token"])

        return asyncio.run(login())

    def consent_page(self) -> tuple[dict[str, str], dict[str, str]]:
        """The hidden fields of a consent page just shown, and that browser's cookies."""
        _, challenge = pkce_pair()
        with httpx2.Client(follow_redirects=False) as browser:
            page = browser.get(self.auth.authorize_url(self.public["client_id"], challenge))
            assert page.status_code == 200, page.text
            return hidden_fields(page.text), dict(browser.cookies)

    def upstream_return(self) -> tuple[dict[str, str], dict[str, str]]:
        """What the upstream provider sends back to /callback (state, code), and the cookies."""
        fields, cookies = self.consent_page()

        async def sign_in_upstream() -> dict[str, str]:
            async with httpx2.AsyncClient(cookies=cookies, follow_redirects=False) as browser:
                consented = await browser.post(
                    f"{self.auth.url}/consent", data={**fields, "decision": "approve"}
                )
                assert consented.status_code == 303, consented.text
                back = await github_sign_in(browser, consented.headers["location"], "alice")
            return dict(back.params)

        return asyncio.run(sign_in_upstream()), cookies


@pytest.fixture(scope="module")
def running(valkey_server: ValkeyProcess) -> Iterator[Credentials]:
    with run_auth_server(
        valkey_server.url,
        client_metadata_documents=False,
        rate_limit_register="0",
        rate_limit_authorize="0",
        rate_limit_token="0",
    ) as auth:

        async def prepare() -> Credentials:
            grants = ["authorization_code", "refresh_token"]
            public = await auth.register(token_endpoint_auth_method="none", grant_types=grants)
            confidential = await auth.register(
                token_endpoint_auth_method="client_secret_basic", grant_types=grants
            )
            async with auth.new_browser() as browser:
                tokens = await oauth_login(
                    auth.url, auth.resource(), client=confidential.body, browser=browser
                )
            return Credentials(
                auth,
                public.body,
                confidential.body,
                tokens["access_token"],
                tokens["refresh_token"],
            )

        yield asyncio.run(prepare())


def with_real_credentials(case: Any, creds: Credentials, pick: int) -> None:
    """For picks 1-3, put real values where a request needs them to get past the first check.

    Pick 0 leaves the generated request alone. The others keep what was generated
    for everything else, so that reaches the code behind the credentials. A
    request schemathesis made invalid on purpose keeps its generated body, query
    and path, so it stays invalid; only credentials (which no schema covers) go in.
    """
    if pick == 0:
        return
    meta = case.meta
    negative = meta is not None and meta.generation.mode.is_negative

    def free(location: str) -> bool:
        return not negative and (
            meta is None or not meta.is_negative_at(ParameterLocation(location))
        )

    path, method = case.operation.path, case.method.upper()
    headers = case.headers if case.headers is not None else {}
    body = case.body if isinstance(case.body, dict) and free("body") else None
    query = case.query if case.query is not None and free("query") else None
    path_parameters = case.path_parameters if free("path") else None
    if path == "/register" and body is not None:
        body["redirect_uris"] = [CLIENT_REDIRECT]
        if pick == 3:
            body.pop("scope", None)
    elif path == "/register/{client_id}" and path_parameters is not None:
        client = creds.fresh_client() if method in ("PUT", "DELETE") else creds.public
        path_parameters["client_id"] = client["client_id"]
        if pick != 2:  # 2: the right client, a generated (wrong) token
            headers["Authorization"] = f"Bearer {client['registration_access_token']}"
        if body is not None and pick == 1:
            body.update(client_id=client["client_id"], redirect_uris=[CLIENT_REDIRECT])
            body.pop("scope", None)
            body.pop("token_endpoint_auth_method", None)
    elif path == "/.well-known/oauth-protected-resource/{path}" and path_parameters is not None:
        path_parameters["path"] = ["echo-stateless/mcp", "fetch/mcp/", "time/mcp"][pick - 1]
    elif path == "/verify":
        headers["Authorization"] = f"Bearer {creds.access_token}"
        if pick != 2 and free("header"):  # 2: a good token, generated forwarded headers
            headers["X-Forwarded-Proto"] = "http"
            headers["X-Forwarded-Host"] = creds.auth.url.removeprefix("http://")
            # 3: a good token for another service (wrong audience)
            headers["X-Forwarded-Uri"] = "/echo-stateless/mcp" if pick == 1 else "/fetch/mcp"
    elif path == "/authorize" and query is not None:
        query["client_id"] = creds.public["client_id"]
        if pick >= 2:
            query.update(resource=creds.auth.resource(), redirect_uri=CLIENT_REDIRECT)
        if pick == 3:
            _, challenge = pkce_pair()
            query.update(response_type="code", code_challenge=challenge)
            query.update(code_challenge_method="S256")
            query.pop("scope", None)
    elif path == "/consent" and body is not None:
        fields, cookies = creds.consent_page()
        body["request_id"] = fields["request_id"]
        if pick != 2:  # 2: another browser (no cookie)
            case.cookies = cookies
        if pick == 3:
            body["csrf_token"] = fields["csrf_token"]
    elif path == "/callback" and query is not None:
        returned, cookies = creds.upstream_return()
        query["state"] = returned["state"]
        if pick != 2:
            case.cookies = cookies
        if pick == 3:
            query["code"] = returned["code"]
            query.pop("error", None)
    elif path == "/token" and body is not None:
        if pick == 2:
            body["client_id"] = creds.public["client_id"]
        else:
            headers["Authorization"] = creds.basic()
            body.pop("client_id", None)
            body.pop("client_secret", None)
        if pick == 3:
            for name in ("code", "code_verifier", "redirect_uri", "scope", "resource"):
                body.pop(name, None)
            body.update(grant_type="refresh_token", refresh_token=creds.refresh_token)
    elif path in ("/revoke", "/introspect") and body is not None:
        if pick == 2:
            body.update(client_id=creds.public["client_id"], token=creds.access_token)
        else:
            headers["Authorization"] = creds.basic()
            body.pop("client_id", None)
            body.pop("client_secret", None)
        if pick == 3:
            fresh = path == "/revoke"  # revoking the shared token would close /verify
            body["token"] = creds.fresh_access_token() if fresh else creds.access_token
    elif path in ("/revoke", "/introspect", "/token"):
        headers["Authorization"] = creds.basic()  # an invalid body from a real client
    case.headers = headers


# The description as the code builds it; the service serves exactly this (checked below and
# in test_openapi.py), with its own origin as the server.
DESCRIPTION = openapi_description(Settings(_env_file=None))
schema = schemathesis.openapi.from_dict(DESCRIPTION)


def test_the_running_service_serves_the_description_under_test(running: Credentials) -> None:
    served = httpx2.get(f"{running.auth.url}/openapi.json").json()
    assert {**served, "servers": None} == {**DESCRIPTION, "servers": None}


@schema.parametrize()
@schema.given(pick=st.sampled_from([0, 0, 0, 1, 2, 3]))
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_answer_conforms_and_none_is_a_server_error(
    case: Any, pick: int, running: Credentials
) -> None:
    with_real_credentials(case, running, pick)
    response = case.call_and_validate(base_url=running.auth.url, checks=CHECKS, timeout=15)
    if case.operation.path == "/token" and pick == 3 and response.status_code == 200:
        running.refresh_token = response.json()["refresh_token"]  # rotated
