"""A person at a browser, scripted: the gateway's consent page, then the upstream sign-in.

Reads each page and posts its real form back, so a changed page fails the
test instead of being skipped over. Works with either upstream the tests use:
the GitHub stand-in and the real `oidc-provider-mock`.

As `$BROWSER` for a program that opens the system browser (Python's
`webbrowser` honours it): `python -m testsupport.oauth_browser URL` signs in as
$OAUTH_BROWSER_LOGIN (default alice) and delivers the final redirect.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys

import httpx2

from testsupport.github_standin import sign_in
from testsupport.oidc_mock import complete_login


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def form_action(html: str) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', html)
    if match is None:
        raise AssertionError(f"no consent form on the page:\n{html[:500]}")
    return match.group(1)


async def authorize_as(
    authorize_url: str,
    login: str = "alice",
    *,
    browser: httpx2.AsyncClient | None = None,
    approve: bool = True,
) -> httpx2.URL:
    """Follow an /authorize URL as `login`; return where the client is finally sent (unvisited)."""
    own = browser or httpx2.AsyncClient(timeout=15.0, follow_redirects=False)
    try:
        page = await own.get(authorize_url)
        if page.status_code in (302, 303):  # consent remembered, or an error for the client
            return httpx2.URL(page.headers["location"])
        if page.status_code != 200:
            raise AssertionError(f"/authorize answered HTTP {page.status_code}: {page.text[:300]}")
        decision = "approve" if approve else "deny"
        consented = await own.post(
            form_action(page.text), data={**hidden_fields(page.text), "decision": decision}
        )
        if consented.status_code not in (302, 303):
            raise AssertionError(
                f"consent answered {consented.status_code}: {consented.text[:300]}"
            )
        target = httpx2.URL(consented.headers["location"])
        gateway = httpx2.URL(authorize_url)
        if not approve or (target.host, target.port) == (gateway.host, gateway.port):
            return target
        if target.path.endswith("/login/oauth/authorize"):
            back = await sign_in(own, str(target), login)
        else:
            back = await complete_login(own, str(target), login)
        callback = await own.get(str(back))
        if callback.status_code != 302:
            raise AssertionError(
                f"/callback answered {callback.status_code}: {callback.text[:300]}"
            )
        return httpx2.URL(callback.headers["location"])
    finally:
        if browser is None:
            await own.aclose()


async def _main(url: str) -> None:
    final = await authorize_as(url, os.environ.get("OAUTH_BROWSER_LOGIN", "alice"))
    async with httpx2.AsyncClient(timeout=15.0) as http:
        await http.get(str(final))  # deliver the code to the client's loopback listener


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1]))
