"""OAuth clients of the gateway, for tests and benchmarks: by hand, or the SDK's own.

`login()` registers (unless given a client), sends the scripted browser
through consent and sign-in, and exchanges the code with PKCE: the steps
written out. `sdk_auth()` is the official SDK's OAuthClientProvider with the
scripted browser as its browser: discovery, registration and all, done the
way real MCP clients do it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from testsupport.oauth_browser import authorize_as

CLIENT_REDIRECT = "http://127.0.0.1:53682/callback"

TokenFor = Callable[[str], Awaitable[str]]  # service name -> access token


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


async def register(base_url: str, **metadata: Any) -> dict[str, Any]:
    body = {"redirect_uris": [CLIENT_REDIRECT], "token_endpoint_auth_method": "none"}
    body.update(metadata)
    async with httpx2.AsyncClient() as http:
        response = await http.post(f"{base_url}/register", json=body)
    assert response.status_code == 201, response.text
    registered: dict[str, Any] = response.json()
    return registered


async def login(
    base_url: str,
    resource: str,
    *,
    client: dict[str, Any] | None = None,
    user: str = "alice",
    scope: str | None = None,
    browser: httpx2.AsyncClient | None = None,
) -> dict[str, Any]:
    """Authorization code + PKCE end to end; the token response."""
    client = client or await register(base_url)
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": CLIENT_REDIRECT,
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": resource,
        **({"scope": scope} if scope else {}),
    }
    url = str(httpx2.URL(f"{base_url}/authorize", params=params))
    where = await authorize_as(url, user, browser=browser)
    assert "code" in where.params, f"no code in {where}"
    data = {
        "grant_type": "authorization_code",
        "code": where.params["code"],
        "redirect_uri": CLIENT_REDIRECT,
        "code_verifier": verifier,
        "client_id": client["client_id"],
    }
    auth: tuple[str, str] | None = None
    method = client.get("token_endpoint_auth_method")
    if method == "client_secret_basic":
        auth = (client["client_id"], client["client_secret"])
    elif method == "client_secret_post":
        data["client_secret"] = client["client_secret"]
    async with httpx2.AsyncClient(auth=auth) as http:
        response = await http.post(f"{base_url}/token", data=data)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


class MemoryStorage:
    """The SDK's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def sdk_auth(
    server_url: str, user: str = "alice", storage: MemoryStorage | None = None
) -> OAuthClientProvider:
    """The SDK's own OAuth for `server_url`, with the scripted browser signing in as `user`."""
    redirected: list[httpx2.URL] = []

    async def open_browser(url: str) -> None:
        redirected.append(await authorize_as(url, user))

    async def wait_for_callback() -> AuthorizationCodeResult:
        where = redirected.pop()
        return AuthorizationCodeResult(
            code=where.params["code"], state=where.params.get("state"), iss=where.params.get("iss")
        )

    return OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            client_name="gateway test client",
            redirect_uris=[CLIENT_REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",  # noqa: S106 - a method name, not a secret
        ),
        storage=storage or MemoryStorage(),
        redirect_handler=open_browser,
        callback_handler=wait_for_callback,
    )
