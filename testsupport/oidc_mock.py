"""The third-party OpenID Connect provider `oidc-provider-mock`, run as a real process.

It is a real provider (Authlib underneath: discovery, JWKS, RS256 ID tokens,
userinfo), whose sign-in page is one form: pick or type a subject and press
"Authorize". It accepts any client id and secret unless registration is
required, and it names itself after the Host it is reached by, so its issuer
is `http://127.0.0.1:<port>`. Used by the auth service's tests and, as a
local-only sign-in, by the local stack.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType

import httpx2

from testsupport.net import free_port
from testsupport.processes import ManagedProcess


def _executable() -> str:
    beside = Path(sys.executable).parent / "oidc-provider-mock"
    return str(beside) if beside.exists() else (shutil.which("oidc-provider-mock") or "")


class OidcMock:
    """`oidc-provider-mock` on a free loopback port, with predefined users (claims incl. `sub`)."""

    def __init__(
        self,
        log_dir: Path,
        users: Sequence[Mapping[str, object]] = (),
        *,
        port: int | None = None,
        require_nonce: bool = True,
    ) -> None:
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        argv = [_executable(), "--host", "127.0.0.1", "--port", str(self.port)]
        if require_nonce:
            argv += ["--require-nonce", "true"]
        for claims in users:
            argv += ["--user-claims", json.dumps(dict(claims))]
        self.process = ManagedProcess(
            argv, log_path=log_dir / f"oidc-provider-mock-{self.port}.log"
        )

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def start(self, timeout: float = 30.0) -> OidcMock:
        self.process.start()
        try:
            self.process.wait_healthy(self.discovery_url, timeout=timeout)
        except BaseException:
            self.process.stop()
            raise
        return self

    def stop(self) -> None:
        self.process.stop()

    def set_user(self, sub: str, claims: Mapping[str, object]) -> None:
        """Create or replace a user's claims while the provider runs (its `PUT /users/<sub>`)."""
        response = httpx2.put(f"{self.issuer}/users/{sub}", json=dict(claims), timeout=5.0)
        response.raise_for_status()

    def __enter__(self) -> OidcMock:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _AuthorizePage(HTMLParser):
    """The provider's sign-in page: which forms it has and which subjects it offers."""

    def __init__(self) -> None:
        super().__init__()
        self.forms = 0
        self.actions: set[str] = set()
        self.sub_field = False
        self.offered: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms += 1
            self.actions.add(a.get("action", ""))
        elif a.get("name") == "sub":
            if tag == "input":
                self.sub_field = True
            elif tag == "button":
                self.offered.append(a.get("value", ""))


async def complete_login(
    client: httpx2.AsyncClient, authorize_url: str, sub: str, *, approve: bool = True
) -> httpx2.URL:
    """Sign in as `sub` on the provider's page; return where it redirects the browser.

    The page's forms post back to the page's own URL (they have no action), with
    `sub` (a predefined user's button, or the free-text field) or `action=deny`.
    """
    page = await client.get(authorize_url, follow_redirects=False)
    if page.status_code != 200:
        raise AssertionError(f"authorize page answered HTTP {page.status_code}: {page.text[:300]}")
    reader = _AuthorizePage()
    reader.feed(page.text)
    if reader.actions != {""} or not (reader.sub_field or sub in reader.offered):
        raise AssertionError("the provider's authorize page is not the form this helper knows")
    data = {"sub": sub} if approve else {"action": "deny"}
    answer = await client.post(str(page.url), data=data, follow_redirects=False)
    if answer.status_code != 302:
        raise AssertionError(f"authorize answered HTTP {answer.status_code}: {answer.text[:300]}")
    return httpx2.URL(answer.headers["location"])
