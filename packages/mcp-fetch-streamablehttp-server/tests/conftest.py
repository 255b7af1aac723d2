"""Loopback web servers to fetch from, and the fetch server built around test seams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from mcp_fetch_streamablehttp_server.config import Settings
from mcp_fetch_streamablehttp_server.server import create_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from testsupport.processes import serve_app

ARTICLE = """<!doctype html><html><head><title>Gateway notes</title>
<style>body { color: red }</style><script>alert("not content")</script></head>
<body><nav><a href="/">Home</a></nav>
<article><h1>Routing MCP through one origin</h1>
<p>Every service is served from one origin, behind one certificate.</p>
<p>Clients that look for OAuth metadata at the root find it there.</p>
<ul><li>Traefik routes each path</li><li>ForwardAuth checks each request</li></ul>
<p>Read the <a href="https://example.com/docs">deployment guide</a> next.</p>
</article></body></html>"""


def content_app(robots: str | int | None) -> Starlette:
    """A small site: pages, types, redirects, loops, huge and slow bodies, robots.txt."""

    async def page(_: Request) -> Response:
        return Response(ARTICLE, media_type="text/html; charset=utf-8")

    async def robots_txt(_: Request) -> Response:
        if robots is None:
            return PlainTextResponse("not found", status_code=404)
        if isinstance(robots, int):
            return PlainTextResponse("no", status_code=robots)
        return PlainTextResponse(robots)

    async def redirect(request: Request) -> Response:
        hops = int(request.path_params["n"])
        target = "/page.html" if hops <= 1 else f"/redirect/{hops - 1}"
        return RedirectResponse(target, status_code=302)

    async def to(request: Request) -> Response:
        return RedirectResponse(request.query_params["url"], status_code=307)

    async def huge(_: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10_000):  # 10 MB, chunked
                yield b"x" * 1024

        return StreamingResponse(chunks(), media_type="text/plain")

    async def slow(_: Request) -> Response:
        async def drip() -> AsyncIterator[bytes]:
            for _ in range(600):
                yield b"."
                await asyncio.sleep(0.1)

        return StreamingResponse(drip(), media_type="text/plain")

    return Starlette(
        routes=[
            Route("/page.html", page),
            Route("/robots.txt", robots_txt),
            Route("/text.txt", lambda _: PlainTextResponse("just some plain text\nline two")),
            Route("/data.json", lambda _: JSONResponse({"answer": 42, "items": ["a", "b"]})),
            Route("/image.png", lambda _: Response(b"\x89PNG\r\n\x1a\n", media_type="image/png")),
            Route("/long.txt", lambda _: PlainTextResponse("0123456789" * 1500)),
            Route("/missing", lambda _: PlainTextResponse("gone", status_code=404)),
            Route("/redirect/{n:int}", redirect),
            Route("/loop", lambda _: RedirectResponse("/loop", status_code=302)),
            Route("/to", to),
            Route("/huge", huge),
            Route("/slow", slow),
            Route("/private/secret.txt", lambda _: PlainTextResponse("robots say no")),
        ]
    )


@pytest.fixture(scope="module")
def make_site() -> Callable[[str | int | None], Starlette]:
    """Build a site with the given robots.txt (text, an HTTP status, or None for 404)."""
    return content_app


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve_app(content_app("User-agent: *\nDisallow: /private/\n")) as url:
        yield url


@pytest.fixture(scope="module")
def site_forbidding_robots() -> Iterator[str]:
    with serve_app(content_app(403)) as url:
        yield url


@pytest.fixture(scope="module")
def site_without_robots() -> Iterator[str]:
    with serve_app(content_app(None)) as url:
        yield url


@pytest.fixture(scope="module")
def fetch_url() -> Iterator[str]:
    """The fetch server, with loopback allow-listed so it can reach the test sites."""
    settings = Settings(allowed_networks=["127.0.0.0/8"], total_timeout=3.0)
    with serve_app(create_app(settings)) as url:
        yield url + "/mcp"
