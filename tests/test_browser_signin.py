"""The browser step in real headless Chromium: consent page, sign-in, back to a loopback client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest

from scripts.stack import Stack
from testsupport.browser import chromium
from testsupport.oauth_client import pkce_pair, register


@pytest.fixture
def loopback_client() -> Iterator[tuple[str, dict[str, str]]]:
    """A desktop client's redirect listener on a free loopback port; records what arrives."""
    received: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.update({k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()})
            body = b"<html><body><h1>Signed in. You can close this window.</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/callback", received
    finally:
        server.shutdown()


def test_sign_in_and_consent_in_chromium(
    gateway: Stack, loopback_client: tuple[str, dict[str, str]], artifacts_dir: Path
) -> None:
    redirect_uri, received = loopback_client
    base = gateway.gateway_url
    client = anyio.run(lambda: register(base, redirect_uris=[redirect_uri], client_name="Desk App"))
    verifier, challenge = pkce_pair()
    authorize = httpx2.URL(
        f"{base}/authorize",
        params={
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": redirect_uri,
            "state": "chromium-state",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": f"{base}/echo-stateless/mcp",
        },
    )
    with chromium() as browser:
        page = browser.new_page()
        page.goto(str(authorize))
        assert "Desk App" in page.content()
        assert "127.0.0.1" in page.inner_text("dl")
        page.screenshot(path=str(artifacts_dir / "consent-page.png"), full_page=True)
        page.click("button[value=approve]")
        # The local-only provider's sign-in page: sign in as alice.
        page.wait_for_selector("input[name=sub], button[name=sub]")
        if page.locator("button[name=sub][value=alice]").count():
            page.click("button[name=sub][value=alice]")
        else:
            page.fill("input[name=sub]", "alice")
            page.locator("input[name=sub]").press("Enter")
        page.wait_for_url(f"{redirect_uri}*")
        assert "Signed in" in page.content()
    assert received["state"] == "chromium-state"
    assert received["iss"] == base
    token = httpx2.post(
        f"{base}/token",
        data={
            "grant_type": "authorization_code",
            "code": received["code"],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": client["client_id"],
        },
    )
    assert token.status_code == 200, token.text
    assert (artifacts_dir / "consent-page.png").stat().st_size > 1000
