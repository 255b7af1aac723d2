"""GitHub as the upstream: the whole sign-in against the GitHub stand-in, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import logging
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs

import anyio
import httpx2
import pytest
from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.upstream import (
    GitHubProvider,
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

from testsupport.github_standin import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    GitHubStandin,
    GitHubUser,
    sign_in,
)
from testsupport.net import free_port
from testsupport.processes import ManagedProcess, serve_app

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parents[3]
CALLBACK = "http://127.0.0.1:8000/callback"
USERS = [
    GitHubUser("octocat", 583231, ("acme",), name="The Octocat", email="octocat@example.org"),
    GitHubUser("hubot", 1001, ("widgets",)),
    GitHubUser("monalisa", 1002),
    GitHubUser("joiner", 1003, tuple(f"club{n:03}" for n in range(120))),
]


@pytest.fixture(scope="module")
def standin() -> GitHubStandin:
    return GitHubStandin(USERS, callback_url=CALLBACK)


@pytest.fixture(scope="module")
def github_url(standin: GitHubStandin) -> Iterator[str]:
    with serve_app(standin.app) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=5.0) as client:
        yield client


def github_settings(base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "upstream_provider": "github",
        "github_client_id": DEFAULT_CLIENT_ID,
        "github_client_secret": DEFAULT_CLIENT_SECRET,
        "github_base_url": base_url,
        "github_api_url": "",
        "allowed_github_users": "",
        "allowed_github_orgs": "",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


async def signed_in(
    provider: GitHubProvider, http: httpx2.AsyncClient, login: str, *, verifier: str | None = None
) -> UpstreamUser:
    challenge = await provider.start(state="st-42", redirect_uri=CALLBACK)
    back = await sign_in(http, challenge.url, login)
    assert str(back).startswith(CALLBACK + "?")
    assert back.params["state"] == "st-42"
    return await provider.finish(
        code=back.params["code"],
        redirect_uri=CALLBACK,
        code_verifier=verifier or challenge.code_verifier,
        nonce=challenge.nonce,
    )


async def test_round_trip_returns_the_github_user(
    standin: GitHubStandin, github_url: str, http: httpx2.AsyncClient
) -> None:
    provider = GitHubProvider(github_settings(github_url, allowed_github_users="octocat"), http)
    orgs_before = standin.calls["GET /api/v3/user/orgs"]

    challenge = await provider.start(state="st-1", redirect_uri=CALLBACK)
    query = httpx2.URL(challenge.url).params
    assert challenge.url.startswith(f"{github_url}/login/oauth/authorize?")
    assert query["client_id"] == DEFAULT_CLIENT_ID
    assert query["redirect_uri"] == CALLBACK
    assert query["scope"] == "read:user"
    assert query["code_challenge_method"] == "S256"
    digest = hashlib.sha256(challenge.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    back = await sign_in(http, challenge.url, "octocat")
    user = await provider.finish(
        code=back.params["code"],
        redirect_uri=CALLBACK,
        code_verifier=challenge.code_verifier,
        nonce=challenge.nonce,
    )
    assert user == UpstreamUser(
        id="github:583231", login="octocat", name="The Octocat", email="octocat@example.org"
    )
    exchange = [r for r in standin.received if r.path == "/login/oauth/access_token"][-1]
    assert exchange.form["code_verifier"] == challenge.code_verifier
    assert exchange.headers["accept"] == "application/json"
    profile = [r for r in standin.received if r.path == "/api/v3/user"][-1]
    assert profile.headers["authorization"].startswith("Bearer gho_")
    assert standin.calls["GET /api/v3/user/orgs"] == orgs_before  # orgs do not matter here


async def test_every_flow_has_its_own_verifier(github_url: str, http: httpx2.AsyncClient) -> None:
    provider = GitHubProvider(github_settings(github_url, allowed_github_users="*"), http)
    one = await provider.start(state="a", redirect_uri=CALLBACK)
    two = await provider.start(state="a", redirect_uri=CALLBACK)
    assert one.code_verifier != two.code_verifier
    assert 43 <= len(one.code_verifier) <= 128


@pytest.mark.parametrize(
    ("users", "orgs", "login", "allowed", "asks_orgs"),
    [
        ("OctoCat", "", "octocat", True, False),  # GitHub logins ignore case
        ("*", "", "hubot", True, False),
        ("*", "acme", "monalisa", True, False),  # everyone: orgs are not consulted
        ("hubot, octocat", "", "octocat", True, False),
        ("hubot", "acme", "octocat", True, True),
        ("", "ACME", "octocat", True, True),
        ("", "club119", "joiner", True, True),  # the 120th organisation: on page two
        ("", "acme", "hubot", False, True),
        ("hubot", "", "monalisa", False, False),
        ("", "", "octocat", False, False),  # nothing configured: nobody
    ],
)
async def test_allow_lists(
    standin: GitHubStandin,
    github_url: str,
    http: httpx2.AsyncClient,
    users: str,
    orgs: str,
    login: str,
    allowed: bool,
    asks_orgs: bool,
) -> None:
    settings = github_settings(github_url, allowed_github_users=users, allowed_github_orgs=orgs)
    provider = GitHubProvider(settings, http)
    challenge = await provider.start(state="s", redirect_uri=CALLBACK)
    scope = httpx2.URL(challenge.url).params["scope"].split()
    orgs_matter = bool(orgs) and "*" not in users
    assert ("read:org" in scope) == orgs_matter
    org_calls = standin.calls["GET /api/v3/user/orgs"]
    if allowed:
        user = await signed_in(provider, http, login)
        assert user.login == login
    else:
        with pytest.raises(UserNotAllowed) as refused:
            await signed_in(provider, http, login)
        assert refused.value.user.login == login
        assert refused.value.user.id.startswith("github:")
    asked = standin.calls["GET /api/v3/user/orgs"] - org_calls
    assert (asked > 0) == asks_orgs


async def test_wrong_code_is_refused(github_url: str, http: httpx2.AsyncClient) -> None:
    provider = GitHubProvider(github_settings(github_url, allowed_github_users="*"), http)
    challenge = await provider.start(state="s", redirect_uri=CALLBACK)
    # The browser's code was refused (a 400 page), not the gateway's setup (a 502).
    with pytest.raises(UpstreamCodeRefused, match="bad_verification_code"):
        await provider.finish(
            code="0" * 20, redirect_uri=CALLBACK, code_verifier=challenge.code_verifier, nonce=""
        )


async def test_wrong_pkce_verifier_is_refused_and_burns_the_code(
    github_url: str, http: httpx2.AsyncClient
) -> None:
    provider = GitHubProvider(github_settings(github_url, allowed_github_users="*"), http)
    other = await provider.start(state="x", redirect_uri=CALLBACK)
    challenge = await provider.start(state="s", redirect_uri=CALLBACK)
    back = await sign_in(http, challenge.url, "hubot")
    code = back.params["code"]
    with pytest.raises(UpstreamError, match="bad_verification_code"):
        await provider.finish(
            code=code, redirect_uri=CALLBACK, code_verifier=other.code_verifier, nonce=""
        )
    with pytest.raises(UpstreamError, match="bad_verification_code"):
        await provider.finish(
            code=code, redirect_uri=CALLBACK, code_verifier=challenge.code_verifier, nonce=""
        )


async def test_a_code_works_once(github_url: str, http: httpx2.AsyncClient) -> None:
    provider = GitHubProvider(github_settings(github_url, allowed_github_users="*"), http)
    challenge = await provider.start(state="s", redirect_uri=CALLBACK)
    back = await sign_in(http, challenge.url, "hubot")
    args = {
        "code": back.params["code"],
        "redirect_uri": CALLBACK,
        "code_verifier": challenge.code_verifier,
        "nonce": "",
    }
    assert (await provider.finish(**args)).id == "github:1001"
    with pytest.raises(UpstreamError, match="bad_verification_code"):
        await provider.finish(**args)


async def test_wrong_client_secret_is_refused_without_echoing_it(
    github_url: str, http: httpx2.AsyncClient
) -> None:
    settings = github_settings(
        github_url, allowed_github_users="*", github_client_secret="not-the-secret-4711"
    )
    provider = GitHubProvider(settings, http)
    with pytest.raises(UpstreamError, match="incorrect_client_credentials") as refused:
        await signed_in(provider, http, "hubot")
    assert "not-the-secret-4711" not in str(refused.value)
    assert not isinstance(refused.value, UpstreamCodeRefused)  # the gateway's setup: a 502


async def test_redirect_uri_must_match_between_authorize_and_token(
    github_url: str, http: httpx2.AsyncClient
) -> None:
    provider = GitHubProvider(github_settings(github_url, allowed_github_users="*"), http)
    challenge = await provider.start(state="s", redirect_uri=CALLBACK)
    back = await sign_in(http, challenge.url, "hubot")
    with pytest.raises(UpstreamError, match="redirect_uri_mismatch"):
        await provider.finish(
            code=back.params["code"],
            redirect_uri=CALLBACK + "/elsewhere",
            code_verifier=challenge.code_verifier,
            nonce="",
        )


async def test_no_token_or_secret_in_the_logs(
    standin: GitHubStandin,
    github_url: str,
    http: httpx2.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = GitHubProvider(github_settings(github_url, allowed_github_orgs="widgets"), http)
    await signed_in(provider, http, "hubot")
    with pytest.raises(UserNotAllowed):
        await signed_in(provider, http, "monalisa")
    assert "hubot" in caplog.text and "monalisa" in caplog.text
    assert DEFAULT_CLIENT_SECRET not in caplog.text
    assert not any(token in caplog.text for token in standin.tokens)


async def test_unreachable_github_is_an_upstream_error(http: httpx2.AsyncClient) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    provider = GitHubProvider(github_settings(dead, allowed_github_users="*"), http)
    challenge = await provider.start(state="s", redirect_uri=CALLBACK)
    with pytest.raises(UpstreamError, match="unreachable"):
        await provider.finish(
            code="c", redirect_uri=CALLBACK, code_verifier=challenge.code_verifier, nonce=""
        )


def broken_github(release: threading.Event) -> Starlette:
    """A server at GitHub's paths that answers garbage, errors, or nothing at all."""

    async def token(request: Request) -> Response:
        code = (await request.form())["code"]
        if code == "html":
            return HTMLResponse("<html>Unicorn! This page is taking too long to load.</html>")
        if code == "teapot":
            return Response("short and stout", status_code=418)
        if code == "hang":
            await anyio.to_thread.run_sync(release.wait, 10.0)
        return JSONResponse({"access_token": f"gho_{code}", "token_type": "bearer"})

    async def user(request: Request) -> Response:
        if request.headers["authorization"] == "Bearer gho_user-502":
            return HTMLResponse("<h1>502 Bad Gateway</h1>", status_code=502)
        return JSONResponse({"login": "ghost"})  # no id

    return Starlette(
        routes=[
            Route("/login/oauth/access_token", token, methods=["POST"]),
            Route("/api/v3/user", user),
        ]
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("html", "did not answer JSON"),
        ("teapot", "HTTP 418"),
        ("user-502", "GET /user answered HTTP 502"),
        ("no-id", "without a numeric id"),
        ("hang", "ReadTimeout"),
    ],
)
async def test_garbage_from_github_is_an_upstream_error(code: str, message: str) -> None:
    release = threading.Event()
    with serve_app(broken_github(release)) as url:
        async with httpx2.AsyncClient(timeout=0.5) as http:
            provider = GitHubProvider(github_settings(url, allowed_github_users="*"), http)
            with pytest.raises(UpstreamError, match=message):
                await provider.finish(code=code, redirect_uri=CALLBACK, code_verifier="v", nonce="")
        release.set()


async def test_github_com_and_enterprise_server_urls() -> None:
    async with httpx2.AsyncClient() as http:
        dotcom = GitHubProvider(github_settings("https://github.com"), http)
        ghes = GitHubProvider(github_settings("https://ghe.example.com/"), http)
        pinned = GitHubProvider(
            github_settings("https://ghe.example.com", github_api_url="https://api.ghe.test/"),
            http,
        )
        challenge = await dotcom.start(state="s", redirect_uri=CALLBACK)
    assert dotcom.api_url == "https://api.github.com"
    assert challenge.url.startswith("https://github.com/login/oauth/authorize?")
    assert ghes.api_url == "https://ghe.example.com/api/v3"
    assert pinned.api_url == "https://api.ghe.test"


async def test_build_provider_and_unconfigured_client(http: httpx2.AsyncClient) -> None:
    settings = github_settings("https://github.com", github_client_id="")
    provider = build_provider(settings, http)
    assert isinstance(provider, GitHubProvider) and provider.kind == "github"
    with pytest.raises(UpstreamError, match="GITHUB_CLIENT_ID"):
        await provider.start(state="s", redirect_uri=CALLBACK)
    oidc = build_provider(settings.model_copy(update={"upstream_provider": "oidc"}), http)
    assert isinstance(oidc, OidcProvider) and oidc.kind == "oidc"


# --- the stand-in itself speaks GitHub's protocol ---------------------------------------


async def test_standin_token_endpoint_answers_form_encoded_unless_asked_for_json(
    github_url: str, http: httpx2.AsyncClient
) -> None:
    provider = GitHubProvider(github_settings(github_url), http)
    challenge = await provider.start(state="s", redirect_uri=CALLBACK)
    back = await sign_in(http, challenge.url, "octocat")
    answer = await http.post(
        f"{github_url}/login/oauth/access_token",
        data={
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "code": back.params["code"],
            "code_verifier": challenge.code_verifier,
        },
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-www-form-urlencoded")
    fields = parse_qs(answer.text)
    assert fields["access_token"][0].startswith("gho_")
    assert fields["token_type"] == ["bearer"] and fields["scope"] == ["read:user"]
    bad = await http.post(f"{github_url}/login/oauth/access_token", data={"code": "x"})
    assert bad.status_code == 200
    assert parse_qs(bad.text)["error"] == ["incorrect_client_credentials"]


async def test_standin_api_authentication_and_org_visibility(
    standin: GitHubStandin, github_url: str, http: httpx2.AsyncClient
) -> None:
    api = f"{github_url}/api/v3"
    anonymous = await http.get(f"{api}/user")
    assert anonymous.status_code == 401
    assert anonymous.json()["message"] == "Requires authentication"
    forged = await http.get(f"{api}/user", headers={"Authorization": "Bearer gho_forged"})
    assert forged.status_code == 401 and forged.json()["message"] == "Bad credentials"

    plain = standin.issue_token("octocat", ["read:user"])
    me = await http.get(f"{api}/user", headers={"Authorization": f"token {plain}"})
    assert me.status_code == 200 and me.json()["id"] == 583231
    hidden = await http.get(f"{api}/user/orgs", headers={"Authorization": f"token {plain}"})
    assert hidden.json() == []

    with_org = standin.issue_token("joiner", ["read:user", "read:org"])
    headers = {"Authorization": f"Bearer {with_org}"}
    first = await http.get(f"{api}/user/orgs", headers=headers)
    assert [o["login"] for o in first.json()] == [f"club{n:03}" for n in range(30)]
    assert 'rel="next"' in first.headers["link"]
    last = await http.get(f"{api}/user/orgs?per_page=100&page=2", headers=headers)
    assert len(last.json()) == 20 and "link" not in last.headers


async def test_standin_authorize_checks_the_app_like_github(
    github_url: str, http: httpx2.AsyncClient
) -> None:
    authorize = f"{github_url}/login/oauth/authorize"
    unknown = await http.get(authorize, params={"client_id": "nobody", "redirect_uri": CALLBACK})
    assert unknown.status_code == 404

    elsewhere = await http.get(
        authorize,
        params={
            "client_id": DEFAULT_CLIENT_ID,
            "redirect_uri": "http://evil.test/cb",
            "state": "s",
        },
    )
    assert elsewhere.status_code == 302
    location = httpx2.URL(elsewhere.headers["location"])
    assert str(location).startswith(CALLBACK + "?")
    assert location.params["error"] == "redirect_uri_mismatch" and location.params["state"] == "s"

    plain = await http.get(
        authorize,
        params={
            "client_id": DEFAULT_CLIENT_ID,
            "redirect_uri": CALLBACK,
            "code_challenge": "x" * 43,
            "code_challenge_method": "plain",
        },
    )
    assert httpx2.URL(plain.headers["location"]).params["error"] == "invalid_request"

    provider = GitHubProvider(github_settings(github_url), http)
    challenge = await provider.start(state="s2", redirect_uri=f"{CALLBACK}/deeper")
    denied = await sign_in(http, challenge.url, "octocat", approve=False)
    assert str(denied).startswith(f"{CALLBACK}/deeper?")
    assert denied.params["error"] == "access_denied" and denied.params["state"] == "s2"

    page = await http.get(challenge.url.replace("state=s2", "state=%3Cscript%3E"))
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


async def test_standin_as_a_process_with_auto_login(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "testsupport.github_standin", "--port", str(port)]
    argv += ["--user", "alice:77:acme", "--user", "bob:78", "--auto-login", "alice"]
    argv += ["--callback-url", CALLBACK]
    with ManagedProcess(argv, log_path=tmp_path / "standin.log", cwd=REPO_ROOT) as proc:
        proc.wait_healthy(f"{base}/api/v3", timeout=20)
        async with httpx2.AsyncClient(timeout=5.0) as http:
            settings = github_settings(base, allowed_github_orgs="acme")
            user = await signed_in(GitHubProvider(settings, http), http, "alice")
    assert user == UpstreamUser(id="github:77", login="alice")
