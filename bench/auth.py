"""The auth service's hot paths: /verify against a bare 200, token issuance, Redis per call.

Everything runs for real on loopback: a Valkey process, `mcp-oauth-server serve`
as a process against it, and the floor (bench/_floor_server.py, a raw ASGI
app answering 200 under the same uvicorn set-up) as another process. A token
comes from the whole browser flow once (consent page, the GitHub stand-in's
sign-in, code + PKCE), as a person would get it.

- /verify: what Traefik asks before every MCP request; the same client code
  (one httpx2.AsyncClient per simulated client, the same forwarded headers)
  against the floor and the service, in alternating rounds of the same run
  (the machine is shared: alternating spreads any drift over both).
- Issuance: the refresh_token grant in a loop, each simulated client on its
  own token family and always presenting the newest refresh token, so every
  call rotates (mints and signs a JWT, writes the new refresh token, seals the
  grace-window successor): no call is served from the grace window.
- Redis: `INFO commandstats` read before and after each phase; commands per
  request = the change in calls (INFO itself left out) / requests answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]

from bench.harness import Call, ClientFactory, Result, merged, print_table, run_load
from testsupport.authserver import redis_commands
from testsupport.github_standin import GitHubStandin, GitHubUser
from testsupport.net import free_port
from testsupport.oauth_browser import authorize_as
from testsupport.processes import ManagedProcess, serve_app
from testsupport.valkey import ValkeyProcess

CONCURRENCY = 32
ROUNDS = 3  # floor and /verify alternate, ROUND_SECONDS each
ROUND_SECONDS = 3.0
ISSUE_SECONDS = 5.0
SERVICE = "echo-stateless"
USER = GitHubUser("alice", 1001)
REDIRECT_URI = "http://127.0.0.1:53682/callback"
FLOOR = "floor (uvicorn, bare 200)"
VERIFY = "/verify (auth service)"
ISSUE = "refresh_token grant (auth service)"


@dataclass
class Counted:
    """Requests the server answered, warm-up included, to divide Redis commands by."""

    requests: int = 0


def per_request(spent: Counter[str], requests: int) -> str:
    """`13.00 (get 3.00, set 3.00, ...)`: commands per request, in all and by command."""
    total = sum(spent.values()) / max(1, requests)
    parts = ", ".join(
        f"{name} {calls / max(1, requests):.2f}" for name, calls in spent.most_common()
    )
    return f"{total:.2f} ({parts})"


def verify_client(base: str, forwarded_host: str, token: str, counted: Counted) -> ClientFactory:
    """One HTTP client per simulated client, asking /verify as Traefik does; 200 or it fails."""
    headers = {
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": forwarded_host,
        "X-Forwarded-Uri": f"/{SERVICE}/mcp",
        "X-Forwarded-Method": "POST",
        "Authorization": f"Bearer {token}",
    }

    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[Call]:
        async with httpx2.AsyncClient(base_url=base, headers=headers, timeout=30.0) as http:
            await http.get("/verify")  # connect before the clock starts
            counted.requests += 1

            async def call() -> object:
                response = await http.get("/verify")
                counted.requests += 1
                if response.status_code != 200:
                    raise RuntimeError(f"/verify answered {response.status_code}")
                return response

            yield call

    return factory


class Issuer:
    """A signed-in browser and a registered client: token families on demand, no more pages."""

    def __init__(self, issuer: str, client_id: str, browser: httpx2.AsyncClient) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.browser = browser

    async def login(self) -> dict[str, str]:
        """/authorize (consent remembered after the first) and the code exchange."""
        verifier = secrets.token_urlsafe(48)
        challenge = create_s256_code_challenge(verifier)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "state": uuid.uuid4().hex,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": f"{self.issuer}/{SERVICE}/mcp",
        }
        url = str(httpx2.URL(f"{self.issuer}/authorize", params=query))
        back = await authorize_as(url, USER.login, browser=self.browser)
        if "code" not in back.params:
            raise RuntimeError(f"no code in the redirect: {back}")
        response = await self.browser.post(
            f"{self.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": back.params["code"],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
                "client_id": self.client_id,
            },
        )
        if response.status_code != 200:
            raise RuntimeError(f"/token answered {response.status_code}: {response.text}")
        tokens: dict[str, str] = response.json()
        return tokens

    def refresh_client(self, counted: Counted) -> ClientFactory:
        """Each simulated client rotates its own family's refresh token in a closed loop."""

        @contextlib.asynccontextmanager
        async def factory() -> AsyncIterator[Call]:
            current = (await self.login())["refresh_token"]
            async with httpx2.AsyncClient(base_url=self.issuer, timeout=30.0) as http:

                async def call() -> object:
                    nonlocal current
                    response = await http.post(
                        "/token",
                        data={
                            "grant_type": "refresh_token",
                            "refresh_token": current,
                            "client_id": self.client_id,
                        },
                    )
                    counted.requests += 1
                    if response.status_code != 200:
                        raise RuntimeError(f"/token answered {response.status_code}")
                    current = response.json()["refresh_token"]
                    return response

                yield call

        return factory


async def _register(issuer: str) -> str:
    async with httpx2.AsyncClient(timeout=15.0) as http:
        response = await http.post(
            f"{issuer}/register",
            json={
                "client_name": "bench auth",
                "redirect_uris": [REDIRECT_URI],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
            },
        )
    if response.status_code != 201:
        raise RuntimeError(f"/register answered {response.status_code}: {response.text}")
    return str(response.json()["client_id"])


async def _commands_per_login(valkey_url: str, issuing: Issuer) -> Counter[str]:
    """Redis commands one remembered-consent /authorize + code exchange costs (issuance set-up)."""
    before = redis_commands(valkey_url)
    await issuing.login()
    return redis_commands(valkey_url) - before


async def _phase(
    subject: str,
    factory: ClientFactory,
    valkey_url: str,
    duration: float,
    setup: Counter[str] | None = None,
) -> tuple[Result, Counter[str]]:
    """One load run, and the Redis commands it caused (less `setup`)."""
    before = redis_commands(valkey_url)
    result = await run_load(subject, factory, concurrency=CONCURRENCY, duration=duration)
    return result, redis_commands(valkey_url) - before - (setup or Counter())


async def _measure(valkey_url: str, issuer: str, floor: str) -> tuple[list[Result], dict[str, str]]:
    client_id = await _register(issuer)
    async with httpx2.AsyncClient(timeout=15.0, follow_redirects=False) as browser:
        issuing = Issuer(issuer, client_id, browser)
        token = (await issuing.login())["access_token"]  # the whole flow: consent, sign-in
        per_login = await _commands_per_login(valkey_url, issuing)
        host = issuer.removeprefix("http://")
        floor_rounds: list[Result] = []
        verify_rounds: list[Result] = []
        verified, verify_spent = Counted(), Counter[str]()
        for _ in range(ROUNDS):
            floor_rounds.append(
                await run_load(
                    FLOOR,
                    verify_client(floor, host, token, Counted()),
                    concurrency=CONCURRENCY,
                    duration=ROUND_SECONDS,
                )
            )
            result, spent = await _phase(
                VERIFY, verify_client(issuer, host, token, verified), valkey_url, ROUND_SECONDS
            )
            verify_rounds.append(result)
            verify_spent += spent
        issued = Counted()
        # Each simulated client logs in once before the clock starts: not part of the figure.
        setup = Counter({name: calls * CONCURRENCY for name, calls in per_login.items()})
        issue_result, issue_spent = await _phase(
            ISSUE, issuing.refresh_client(issued), valkey_url, ISSUE_SECONDS, setup
        )
    results = [merged(floor_rounds), merged(verify_rounds), issue_result]
    return results, {
        VERIFY: per_request(verify_spent, verified.requests),
        ISSUE: per_request(issue_spent, issued.requests),
    }


def _auth_env(
    valkey: ValkeyProcess, issuer: str, github: GitHubStandin, github_url: str
) -> dict[str, str]:
    """What run_auth_server configures, as the environment of `mcp-oauth-server serve`."""
    return {
        "REDIS_URL": valkey.url,
        "REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}:",
        "GATEWAY_ISSUER": issuer,
        "MCP_SERVICES": SERVICE,
        "UPSTREAM_PROVIDER": "github",
        "GITHUB_CLIENT_ID": github.client_id,
        "GITHUB_CLIENT_SECRET": github.client_secret,
        "GITHUB_BASE_URL": github_url,
        "GITHUB_API_URL": f"{github_url}/api/v3",
        "ALLOWED_GITHUB_USERS": USER.login,
        "LOG_LEVEL": "INFO",
        # The issuance figure measures the grant, not the per-address limiter.
        "RATE_LIMIT_TOKEN": "0",
    }


def main() -> None:
    exe = shutil.which("mcp-oauth-server")
    if exe is None:
        raise SystemExit("mcp-oauth-server is not installed: run `just setup`")
    work = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    port, floor_port = free_port(), free_port()
    issuer, floor_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{floor_port}"
    github = GitHubStandin([USER], callback_url=f"{issuer}/callback")
    valkey = ValkeyProcess(work / "valkey").start()
    try:
        with serve_app(github.app) as github_url:
            # cwd: a directory with no .env, so only the settings given here apply.
            auth = ManagedProcess(
                [exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
                log_path=work / "auth.log",
                env=_auth_env(valkey, issuer, github, github_url),
                cwd=work,
            )
            floor = ManagedProcess(
                [sys.executable, "-m", "bench._floor_server", str(floor_port)],
                log_path=work / "floor.log",
                cwd=Path(__file__).resolve().parent.parent,
            )
            with auth, floor:
                auth.wait_healthy(f"{issuer}/health")
                floor.wait_healthy(f"{floor_url}/health")
                results, redis_use = asyncio.run(_measure(valkey.url, issuer, floor_url))
    finally:
        valkey.stop()

    print_table(
        f"auth service: {CONCURRENCY} clients, one httpx2.AsyncClient each, closed loop",
        FLOOR,
        results,
    )
    print("Redis commands per request (INFO commandstats, after minus before, / requests):")
    for subject, commands in redis_use.items():
        print(f"  {subject}: {commands}")
