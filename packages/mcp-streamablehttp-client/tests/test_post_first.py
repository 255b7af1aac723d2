"""One-shot commands start the way the protocol starts: with a POST, in both eras.

The peer is the stateless echo server behind a router that serves POST only and
answers anything else with 404, as servers that route POST alone (and the
conformance server) do; no token is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_testkit import ClientHome
from mcp_echo_streamablehttp_server_stateless.config import Settings
from mcp_echo_streamablehttp_server_stateless.server import create_app
from starlette.types import ASGIApp, Receive, Scope, Send

from testsupport.processes import serve_app


def post_only(app: ASGIApp) -> ASGIApp:
    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] != "POST":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"Not Found"})
            return
        await app(scope, receive, send)

    return routed


@pytest.fixture(scope="module")
def post_only_url() -> Iterator[str]:
    with serve_app(post_only(create_app(Settings()))) as url:
        yield f"{url}/mcp"


@pytest.mark.parametrize("protocol", ["auto", "handshake"])
def test_listing_and_calling_need_no_get(
    post_only_url: str, home: ClientHome, protocol: str
) -> None:
    listed = home.run("--server-url", post_only_url, "--protocol", protocol, "--list-tools")
    assert listed.returncode == 0, listed.stderr
    assert "printHeader" in listed.stdout
    called = home.run(
        "--server-url", post_only_url, "--protocol", protocol, "-c", "echo message=posted"
    )
    assert called.returncode == 0, called.stderr
    assert "posted" in called.stdout


@pytest.mark.parametrize("protocol", ["auto", "handshake"])
def test_login_to_a_server_that_needs_none_says_so(
    post_only_url: str, home: ClientHome, protocol: str
) -> None:
    done = home.run("--server-url", post_only_url, "--protocol", protocol, "--login")
    assert done.returncode == 0, done.stderr
    assert "needs no sign-in" in done.stdout
    assert "Error" not in done.stderr
    assert home.visits() == 0
