"""The real auth service on loopback, signing users in through the GitHub stand-in.

`run_auth_server()` starts both (the service in-process under uvicorn, on a
real port, against a real Valkey) and yields an `AuthServer` whose methods do
what an OAuth client and a person at a browser do, over HTTP, step by step.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import redis
from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.server import create_app

from testsupport.github_standin import GitHubStandin, GitHubUser
from testsupport.net import free_port
from testsupport.oauth_browser import authorize_as
from testsupport.oauth_client import CLIENT_REDIRECT, login, register
from testsupport.processes import ThreadedServer, serve_app

ALICE = GitHubUser("alice", 1001, ("acme",))
MALLORY = GitHubUser("mallory", 6666)


@dataclass
class Registered:
    client_id: str
    body: dict[str, Any]

    @property
    def secret(self) -> str:
        return str(self.body.get("client_secret", ""))


@dataclass
class AuthServer:
    url: str
    settings: Settings
    github: GitHubStandin
    browser: httpx2.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.browser = self.new_browser()

    def new_browser(self) -> httpx2.AsyncClient:
        """A separate browser: its own cookies."""
        return httpx2.AsyncClient(timeout=15.0, follow_redirects=False)

    def resource(self, service: str = "echo-stateless") -> str:
        return f"{self.url}/{service}/mcp"

    async def register(self, **metadata: Any) -> Registered:
        body = await register(self.url, **metadata)
        return Registered(body["client_id"], body)

    def authorize_url(
        self,
        client_id: str,
        challenge: str,
        *,
        state: str = "st-123",
        resource: str | None = None,
        redirect_uri: str = CLIENT_REDIRECT,
        **extra: str,
    ) -> str:
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": resource or self.resource(),
            **extra,
        }
        return str(httpx2.URL(f"{self.url}/authorize", params=params))

    async def approve(
        self, authorize_url: str, login: str = "alice", browser: httpx2.AsyncClient | None = None
    ) -> httpx2.URL:
        """A person's whole browser step; returns where the client is finally sent."""
        return await authorize_as(authorize_url, login, browser=browser or self.browser)

    async def token(
        self, data: dict[str, str], auth: tuple[str, str] | None = None
    ) -> httpx2.Response:
        async with httpx2.AsyncClient(auth=auth) as http:
            return await http.post(f"{self.url}/token", data=data)

    async def login(
        self, client: Registered, *, service: str = "echo-stateless", scope: str | None = None
    ) -> dict[str, Any]:
        """Authorization code + PKCE end to end, in this server's browser; the token response."""
        return await login(
            self.url, self.resource(service), client=client.body, scope=scope, browser=self.browser
        )

    async def verify(
        self, token: str | None, service: str = "echo-stateless", **headers: str
    ) -> httpx2.Response:
        """Ask /verify as Traefik would for a request to /<service>/mcp."""
        origin = httpx2.URL(self.url)
        sent = {
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": f"{origin.host}:{origin.port}",
            "X-Forwarded-Uri": f"/{service}/mcp",
            "X-Forwarded-Method": "POST",
            **headers,
        }
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with httpx2.AsyncClient() as http:
            return await http.get(f"{self.url}/verify", headers=sent)

    async def mirrored(self) -> bool:
        """Whether /health says /verify checks revocation from memory (subscribed and loaded)."""
        async with httpx2.AsyncClient() as http:
            health = (await http.get(f"{self.url}/health")).json()
        return bool(health.get("revocations") == "mirrored")

    async def wait_mirrored(self) -> None:
        """Polls: another process (Valkey) decides when, there is no event to wait on."""
        with anyio.fail_after(15):
            while not await self.mirrored():  # noqa: ASYNC110
                await anyio.sleep(0.05)


def redis_commands(url: str) -> Counter[str]:
    """Calls per command Valkey has executed so far, leaving out INFO (this very reading)."""
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return Counter(
        {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if isinstance(value, dict) and name != "cmdstat_info"
        }
    )


@contextlib.contextmanager
def run_auth_server(
    redis_url: str, *, port: int | None = None, **overrides: Any
) -> Iterator[AuthServer]:
    """A fresh key prefix per server (unless given), so tests never see each other's data."""
    port = port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    github = GitHubStandin([ALICE, MALLORY], callback_url=f"{issuer}/callback")
    with serve_app(github.app) as github_url:
        values: dict[str, Any] = {
            "gateway_issuer": issuer,
            "redis_url": redis_url,
            "redis_key_prefix": f"test-{uuid.uuid4().hex[:8]}:",
            "upstream_provider": "github",
            "github_client_id": github.client_id,
            "github_client_secret": github.client_secret,
            "github_base_url": github_url,
            "github_api_url": f"{github_url}/api/v3",
            "allowed_github_users": "alice",
            "mcp_services": "echo-stateless,echo-stateful,fetch",
            "scopes_supported": "mcp",
            "service_scopes": "fetch=mcp:fetch",
            **overrides,
        }
        settings = Settings(**values)
        server = ThreadedServer(create_app(settings), port=port).start()
        try:
            yield AuthServer(issuer, settings, github)
        finally:
            server.stop()
