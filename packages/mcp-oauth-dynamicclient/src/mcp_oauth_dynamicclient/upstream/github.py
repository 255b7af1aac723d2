"""GitHub (github.com or GitHub Enterprise Server) as the upstream identity provider.

GitHub OAuth apps speak a dialect of OAuth 2.0: the token endpoint answers
form-encoded unless asked for JSON, reports errors with HTTP 200, and has no
ID token, so the user is whoever `GET /user` says the token belongs to.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]

from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.upstream.base import (
    UpstreamChallenge,
    UpstreamCodeRefused,
    UpstreamError,
    UpstreamUser,
    UserNotAllowed,
)

log = logging.getLogger(__name__)

GITHUB_COM = "https://github.com"
GITHUB_COM_API = "https://api.github.com"
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
ORG_PAGES_MAX = 10  # 1,000 organisations is more than any real account belongs to
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


def api_root(base_url: str, api_url: str = "") -> str:
    """The REST API root: api.github.com for github.com, <base>/api/v3 for Enterprise Server."""
    if api_url:
        return api_url.rstrip("/")
    base = base_url.rstrip("/")
    host = urlsplit(base).hostname or ""
    return GITHUB_COM_API if host in ("github.com", "www.github.com") else f"{base}/api/v3"


def comma_list(raw: str) -> frozenset[str]:
    """A comma-separated setting as a set of lower-cased entries (GitHub names ignore case)."""
    return frozenset(item.strip().lower() for item in raw.split(",") if item.strip())


class GitHubProvider:
    kind = "github"

    def __init__(self, settings: Settings, http: httpx2.AsyncClient) -> None:
        self._http = http
        self._client_id = settings.github_client_id
        self._client_secret = settings.github_client_secret.get_secret_value()
        self.base_url = settings.github_base_url.rstrip("/")
        self.api_url = api_root(settings.github_base_url, settings.github_api_url)
        users = comma_list(settings.allowed_github_users)
        self._everyone = "*" in users
        self._users = users - {"*"}
        self._orgs = frozenset() if self._everyone else comma_list(settings.allowed_github_orgs)
        self.scope = "read:user read:org" if self._orgs else "read:user"
        if not (self._everyone or self._users or self._orgs):
            log.warning(
                "github: ALLOWED_GITHUB_USERS and ALLOWED_GITHUB_ORGS are both empty; "
                "nobody can sign in"
            )

    async def start(self, *, state: str, redirect_uri: str) -> UpstreamChallenge:
        if not self._client_id:
            raise UpstreamError("GitHub sign-in is not configured (GITHUB_CLIENT_ID is empty)")
        verifier = generate_token(64)
        query = urlencode(
            {
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": self.scope,
                "code_challenge": create_s256_code_challenge(verifier),
                "code_challenge_method": "S256",
                "allow_signup": "false",
            }
        )
        return UpstreamChallenge(
            url=f"{self.base_url}/login/oauth/authorize?{query}", code_verifier=verifier, nonce=""
        )

    async def finish(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamUser:
        token = await self._exchange(code, redirect_uri, code_verifier)
        profile = await self._get_json(f"{self.api_url}/user", token, "GET /user")
        if not isinstance(profile, dict):
            raise UpstreamError("GitHub GET /user did not answer a JSON object")
        user_id, login = profile.get("id"), profile.get("login")
        if not isinstance(user_id, int) or isinstance(user_id, bool) or not isinstance(login, str):
            raise UpstreamError("GitHub GET /user answered without a numeric id and a login")
        user = UpstreamUser(
            id=f"github:{user_id}",
            login=login,
            name=_optional_str(profile.get("name")),
            email=_optional_str(profile.get("email")),
        )
        if self._everyone or login.lower() in self._users:
            log.info("github: %s (%s) signed in (allowed user)", login, user.id)
            return user
        if self._orgs:
            shared = self._orgs & await self._user_orgs(token)
            if shared:
                log.info("github: %s (%s) signed in (org %s)", login, user.id, min(shared))
                return user
        log.warning("github: %s (%s) signed in but is not on the allow-lists", login, user.id)
        raise UserNotAllowed(user)

    async def _exchange(self, code: str, redirect_uri: str, code_verifier: str) -> str:
        try:
            response = await self._http.post(
                f"{self.base_url}/login/oauth/access_token",
                data={
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": code_verifier,
                },
                headers={"Accept": "application/json"},
            )
        except httpx2.HTTPError as exc:
            raise UpstreamError(f"GitHub token endpoint unreachable: {_describe(exc)}") from None
        if response.status_code != 200:
            raise UpstreamError(f"GitHub token endpoint answered HTTP {response.status_code}")
        body = _json(response, "token endpoint")
        if not isinstance(body, dict):
            raise UpstreamError("GitHub token endpoint did not answer a JSON object")
        if "error" in body:
            # GitHub reports a refused code with HTTP 200 and an error member.
            error = str(body.get("error"))[:80]
            detail = str(body.get("error_description") or "")[:200]
            refused = f"GitHub refused the authorization code: {error} ({detail})"
            if error == "bad_verification_code":  # invalid, expired or used: not our setup
                raise UpstreamCodeRefused(refused)
            raise UpstreamError(refused)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise UpstreamError("GitHub token endpoint answered without an access token")
        return token

    async def _user_orgs(self, token: str) -> frozenset[str]:
        """Every organisation the token can see (read:org), following GitHub's pagination."""
        orgs: set[str] = set()
        url: str | None = f"{self.api_url}/user/orgs?per_page=100"
        for _ in range(ORG_PAGES_MAX):
            if url is None:
                break
            response = await self._get(url, token, "GET /user/orgs")
            page = _json(response, "GET /user/orgs")
            if not isinstance(page, list):
                raise UpstreamError("GitHub GET /user/orgs did not answer a JSON list")
            orgs.update(
                org["login"].lower()
                for org in page
                if isinstance(org, dict) and isinstance(org.get("login"), str)
            )
            match = _NEXT_LINK.search(response.headers.get("link", ""))
            # Follow only links back into the same API: the token goes with every request.
            url = match.group(1) if match and match.group(1).startswith(self.api_url) else None
        return frozenset(orgs)

    async def _get(self, url: str, token: str, what: str) -> httpx2.Response:
        try:
            response = await self._http.get(
                url, headers={**API_HEADERS, "Authorization": f"Bearer {token}"}
            )
        except httpx2.HTTPError as exc:
            raise UpstreamError(f"GitHub {what} unreachable: {_describe(exc)}") from None
        if response.status_code != 200:
            raise UpstreamError(f"GitHub {what} answered HTTP {response.status_code}")
        return response

    async def _get_json(self, url: str, token: str, what: str) -> Any:
        return _json(await self._get(url, token, what), what)


def _json(response: httpx2.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UpstreamError(f"GitHub {what} did not answer JSON") from None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _describe(exc: httpx2.HTTPError) -> str:
    """The failure's kind and message; request bodies (which hold secrets) never appear in it."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
