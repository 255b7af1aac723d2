"""A stand-in for GitHub's OAuth-app sign-in and the REST API parts the gateway reads.

github.com cannot be reached from tests, so this speaks GitHub's protocol as
GitHub documents it, including its quirks: the token endpoint answers
form-encoded unless asked for JSON and reports errors with HTTP 200; redirect
URIs must sit under the app's registered callback URL; PKCE (S256 only) is
checked; the REST API lives under /api/v3, as on GitHub Enterprise Server.
A refused PKCE verifier is answered like any other bad code.

In-process: `serve_app(GitHubStandin(...).app)`. As a process (the local stack):
`python -m testsupport.github_standin --port N --user alice:1001:acme,widgets`.
"""

from __future__ import annotations

import argparse
import html
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import httpx2
import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

DEFAULT_CLIENT_ID = "Iv1.standin0client"
DEFAULT_CLIENT_SECRET = "standin-client-secret"  # noqa: S105 - a test stand-in's fixed secret
CODE_TTL = 600.0  # GitHub's codes expire after ten minutes
DOCS = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"
ORG_SCOPES = frozenset({"read:org", "write:org", "admin:org", "user"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class GitHubUser:
    login: str
    id: int
    orgs: tuple[str, ...] = ()
    name: str | None = None
    email: str | None = None

    @classmethod
    def parse(cls, spec: str) -> GitHubUser:
        """`login:id[:org1,org2]`, as the command line takes it."""
        login, _, rest = spec.partition(":")
        user_id, _, orgs = rest.partition(":")
        return cls(login, int(user_id), tuple(o for o in orgs.split(",") if o))


@dataclass(frozen=True)
class Received:
    """One request as the stand-in saw it, for tests to inspect."""

    method: str
    path: str
    query: Mapping[str, str]
    form: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass
class _Grant:
    login: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    challenge: str | None
    issued: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class _Token:
    login: str
    scopes: tuple[str, ...]


class GitHubStandin:
    def __init__(
        self,
        users: Sequence[GitHubUser],
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        callback_url: str = "http://127.0.0.1/callback",
        auto_login: str | None = None,
        app_name: str = "MCP OAuth Gateway",
    ) -> None:
        self.users = {user.login.lower(): user for user in users}
        self.client_id = client_id
        self.client_secret = client_secret
        self.callback_url = callback_url
        self.auto_login = auto_login
        self.app_name = app_name
        self.calls: Counter[str] = Counter()  # "GET /api/v3/user" -> count
        self.received: deque[Received] = deque(maxlen=1000)
        self.codes: dict[str, _Grant] = {}
        self.tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self._org_ids = {
            org.lower(): 9000 + n
            for n, org in enumerate(sorted({o for u in users for o in u.orgs}))
        }
        self.app = Starlette(
            routes=[
                Route("/login/oauth/authorize", self._authorize, methods=["GET", "POST"]),
                Route("/login/oauth/access_token", self._access_token, methods=["POST"]),
                Route("/api/v3", self._api_root),
                Route("/api/v3/user", self._user),
                Route("/api/v3/user/orgs", self._user_orgs),
            ]
        )

    def issue_token(self, login: str, scopes: Sequence[str]) -> str:
        """An access token as if `login` had authorized the app (for API-only tests)."""
        token = "gho_" + secrets.token_urlsafe(27)[:36]
        with self._lock:
            self.tokens[token] = _Token(self.users[login.lower()].login, tuple(scopes))
        return token

    async def _record(self, request: Request) -> dict[str, str]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.calls[f"{request.method} {request.url.path}"] += 1
        self.received.append(
            Received(
                request.method,
                request.url.path,
                dict(request.query_params),
                form,
                dict(request.headers),
            )
        )
        return form

    # --- browser sign-in -------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        form = await self._record(request)
        params = {**dict(request.query_params), **form}
        if params.get("client_id") != self.client_id:
            return HTMLResponse(
                "<h1>404</h1><p>This is not the web page you are looking for.</p>", 404
            )
        state = params.get("state")
        redirect_uri = params.get("redirect_uri") or self.callback_url
        if not redirect_uri_allowed(redirect_uri, self.callback_url):
            return _redirect(
                self.callback_url,
                error="redirect_uri_mismatch",
                error_description="The redirect_uri MUST match the registered callback URL "
                "for this application.",
                error_uri=f"{DOCS}#redirect-uri-mismatch",
                state=state,
            )
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or ("S256" if challenge else None)
        if method is not None and (method != "S256" or challenge is None or len(challenge) != 43):
            return _redirect(
                redirect_uri,
                error="invalid_request",
                error_description="code_challenge_method must be S256 with a valid code_challenge",
                state=state,
            )
        scopes = tuple(s for s in params.get("scope", "").replace(",", " ").split() if s)
        if request.method == "GET" and self.auto_login is None:
            return HTMLResponse(self._page(params, error=None))
        if request.method == "POST" and form.get("authorize") != "1":
            return _redirect(
                redirect_uri,
                error="access_denied",
                error_description="The user has denied your application access.",
                error_uri="https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
                state=state,
            )
        login = (self.auto_login if request.method == "GET" else form.get("login")) or ""
        user = self.users.get(login.lower())
        if user is None:
            return HTMLResponse(self._page(params, error="Incorrect username."), 422)
        code = secrets.token_hex(10)  # GitHub's codes are 20 hex digits
        with self._lock:
            self.codes[code] = _Grant(user.login, self.client_id, redirect_uri, scopes, challenge)
        return _redirect(redirect_uri, code=code, state=state)

    def _page(self, params: Mapping[str, str], *, error: str | None) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k
            in (
                "client_id",
                "redirect_uri",
                "state",
                "scope",
                "code_challenge",
                "code_challenge_method",
            )
        )
        options = "".join(
            f'<option value="{html.escape(u.login)}">{html.escape(u.login)}</option>'
            for u in self.users.values()
        )
        scopes = html.escape(params.get("scope", "") or "(public data only)")
        problem = f'<p class="flash-error">{html.escape(error)}</p>' if error else ""
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>Authorize {html.escape(self.app_name)}</title></head><body>"
            f"<h1>Sign in to GitHub</h1><p>to continue to <b>{html.escape(self.app_name)}</b></p>"
            f"{problem}<p>Requested scopes: {scopes}</p>"
            '<form method="post" action="/login/oauth/authorize">'
            f'{hidden}<label>Username <select name="login">{options}</select></label>'
            '<button type="submit" name="authorize" value="1">Authorize</button>'
            '<button type="submit" name="authorize" value="0">Cancel</button>'
            "</form></body></html>"
        )

    # --- token exchange ---------------------------------------------------------------

    async def _access_token(self, request: Request) -> Response:
        form = await self._record(request)
        params = {**dict(request.query_params), **form}
        accept = request.headers.get("accept", "")
        if params.get("client_id") != self.client_id or not secrets.compare_digest(
            params.get("client_secret", ""), self.client_secret
        ):
            return _token_answer(
                accept,
                error="incorrect_client_credentials",
                error_description="The client_id and/or client_secret passed are incorrect.",
                error_uri=f"{DOCS}#incorrect-client-credentials",
            )
        with self._lock:
            grant = self.codes.pop(params.get("code", ""), None)  # single use, even on failure
        bad_code = {
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": f"{DOCS}#bad-verification-code",
        }
        if grant is None or time.monotonic() - grant.issued > CODE_TTL:
            return _token_answer(accept, **bad_code)
        redirect_uri = params.get("redirect_uri")
        if redirect_uri and redirect_uri != grant.redirect_uri:
            return _token_answer(
                accept,
                error="redirect_uri_mismatch",
                error_description="The redirect_uri MUST match the registered callback URL "
                "for this application.",
                error_uri=f"{DOCS}#redirect-uri-mismatch",
            )
        if grant.challenge is not None:
            verifier = params.get("code_verifier", "")
            if not verifier or not secrets.compare_digest(
                create_s256_code_challenge(verifier), grant.challenge
            ):
                return _token_answer(accept, **bad_code)
        token = self.issue_token(grant.login, grant.scopes)
        return _token_answer(
            accept,
            access_token=token,
            token_type="bearer",  # noqa: S106 - the token type, not a password
            scope=",".join(grant.scopes),
        )

    # --- REST API ---------------------------------------------------------------------

    async def _api_root(self, request: Request) -> Response:
        await self._record(request)
        api = str(request.base_url).rstrip("/") + "/api/v3"
        return JSONResponse(
            {
                "current_user_url": f"{api}/user",
                "user_organizations_url": f"{api}/user/orgs",
                "authorizations_url": str(request.base_url).rstrip("/") + "/settings/applications",
            }
        )

    def _authenticated(self, request: Request) -> _Token | Response:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if not credential:
            return JSONResponse(
                {
                    "message": "Requires authentication",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                },
                401,
            )
        token = self.tokens.get(credential.strip())
        if scheme.lower() not in ("bearer", "token") or token is None:
            return JSONResponse(
                {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                },
                401,
            )
        return token

    async def _user(self, request: Request) -> Response:
        await self._record(request)
        token = self._authenticated(request)
        if isinstance(token, Response):
            return token
        user = self.users[token.login.lower()]
        web = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "login": user.login,
                "id": user.id,
                "node_id": f"U_standin{user.id}",
                "avatar_url": f"{web}/avatars/u/{user.id}",
                "html_url": f"{web}/{user.login}",
                "type": "User",
                "site_admin": False,
                "name": user.name,
                "company": None,
                "blog": "",
                "location": None,
                "email": user.email,
                "bio": None,
                "public_repos": 0,
                "followers": 0,
                "following": 0,
                "created_at": "2020-01-01T00:00:00Z",
                "updated_at": "2020-01-01T00:00:00Z",
            },
            headers=_scope_headers(token, "read:user"),
        )

    async def _user_orgs(self, request: Request) -> Response:
        await self._record(request)
        token = self._authenticated(request)
        if isinstance(token, Response):
            return token
        # Without an org scope the token may not see the user's memberships.
        visible = self.users[token.login.lower()].orgs if ORG_SCOPES & set(token.scopes) else ()
        try:
            per_page = min(max(int(request.query_params.get("per_page", "30")), 1), 100)
            page = max(int(request.query_params.get("page", "1")), 1)
        except ValueError:
            per_page, page = 30, 1
        chunk = visible[(page - 1) * per_page : page * per_page]
        api = str(request.base_url).rstrip("/") + "/api/v3"
        body = [
            {
                "login": org,
                "id": self._org_ids[org.lower()],
                "node_id": f"O_standin{self._org_ids[org.lower()]}",
                "url": f"{api}/orgs/{org}",
                "description": None,
            }
            for org in chunk
        ]
        headers = _scope_headers(token, "read:org")
        if page * per_page < len(visible):
            next_url = URL(str(request.url)).include_query_params(page=page + 1, per_page=per_page)
            headers["Link"] = f'<{next_url}>; rel="next"'
        return JSONResponse(body, headers=headers)


def redirect_uri_allowed(redirect_uri: str, callback_url: str) -> bool:
    """GitHub's rule: same scheme and host (or a subdomain of it), same port except on
    loopback, and a path at or below the callback URL's path."""
    got, registered = urlsplit(redirect_uri), urlsplit(callback_url)
    if got.scheme != registered.scheme or not got.hostname or not registered.hostname:
        return False
    if got.hostname != registered.hostname and not got.hostname.endswith("." + registered.hostname):
        return False
    if registered.hostname not in LOOPBACK and got.port != registered.port:
        return False
    base = registered.path.rstrip("/")
    return got.path == registered.path or got.path.startswith(base + "/") or not base


def _redirect(target: str, **params: str | None) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{query}", status_code=302)


def _token_answer(accept: str, **fields: str) -> Response:
    """GitHub's token endpoint: HTTP 200 always, JSON only when asked for."""
    if "application/json" in accept:
        return JSONResponse(fields)
    return Response(
        urlencode(fields), media_type="application/x-www-form-urlencoded; charset=utf-8"
    )


def _scope_headers(token: _Token, accepted: str) -> dict[str, str]:
    return {"X-OAuth-Scopes": ", ".join(token.scopes), "X-Accepted-OAuth-Scopes": accepted}


# --- driving the browser step over HTTP --------------------------------------------------


class _FormReader(HTMLParser):
    """The sign-in page's form: its action, hidden fields and the logins it offers."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.logins: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a.get("name", "")] = a.get("value", "")
        elif tag == "option":
            self.logins.append(a.get("value", ""))


async def sign_in(
    client: httpx2.AsyncClient, authorize_url: str, login: str, *, approve: bool = True
) -> httpx2.URL:
    """Do what a person does on the sign-in page; return where GitHub redirects the browser.

    The page is read, not assumed: the form's action and hidden fields are posted back.
    """
    page = await client.get(authorize_url, follow_redirects=False)
    if page.status_code == 302:
        return httpx2.URL(page.headers["location"])  # auto_login, or an error redirect
    if page.status_code != 200:
        raise AssertionError(f"sign-in page answered HTTP {page.status_code}: {page.text[:200]}")
    form = _FormReader()
    form.feed(page.text)
    if form.action is None:
        raise AssertionError("sign-in page has no form")
    if login not in form.logins:
        raise AssertionError(f"sign-in page does not offer {login!r} (offers {form.logins})")
    answer = await client.post(
        page.url.join(form.action),
        data={**form.hidden, "login": login, "authorize": "1" if approve else "0"},
        follow_redirects=False,
    )
    if answer.status_code != 302:
        raise AssertionError(f"authorize answered HTTP {answer.status_code}: {answer.text[:200]}")
    return httpx2.URL(answer.headers["location"])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="GitHub OAuth-app and REST API stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9410)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument(
        "--callback-url",
        default="http://127.0.0.1/callback",
        help="the OAuth app's registered callback URL (redirect URIs must sit under it)",
    )
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="LOGIN:ID[:ORG,ORG]",
        help="a GitHub user who can sign in (repeatable)",
    )
    parser.add_argument("--auto-login", help="approve every sign-in as this user at once")
    args = parser.parse_args(argv)
    users = [GitHubUser.parse(spec) for spec in args.user]
    if args.auto_login and args.auto_login.lower() not in {u.login.lower() for u in users}:
        parser.error(f"--auto-login {args.auto_login} is not one of the --user logins")
    standin = GitHubStandin(
        users,
        client_id=args.client_id,
        client_secret=args.client_secret,
        callback_url=args.callback_url,
        auto_login=args.auto_login,
    )
    print(
        f"GitHub stand-in on http://{args.host}:{args.port} (client id {args.client_id}, "
        f"users {', '.join(u.login for u in users) or 'none'})",
        flush=True,
    )
    uvicorn.run(standin.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
