"""robots.txt, per RFC 9309 (and 401/403 read as "keep out", as the official fetch server does)."""

from __future__ import annotations

from urllib.robotparser import RobotFileParser

import httpx2
from mcp_oauth_gateway_core.fetcher import FetchError, SafeFetcher

ROBOTS_MAX_BYTES = 500_000  # RFC 9309 asks crawlers to read at least 500 KiB


async def check_robots(fetcher: SafeFetcher, url: str, user_agent: str) -> None:
    """Raise FetchError if robots.txt forbids `user_agent` to fetch `url`."""
    robots_url = str(httpx2.URL(url).copy_with(path="/robots.txt", query=None, fragment=None))
    try:
        robots = await fetcher.get(robots_url, max_bytes=ROBOTS_MAX_BYTES)
    except FetchError as exc:
        raise FetchError(f"could not read {robots_url} ({exc}); not fetching") from None
    if robots.status in (401, 403):
        raise FetchError(
            f"{robots_url} answered {robots.status}: the site does not allow autonomous fetching"
        )
    if robots.status >= 500:
        raise FetchError(f"{robots_url} answered {robots.status}: assuming fetching is not allowed")
    if robots.status >= 400:
        return  # no robots.txt: everything is allowed
    parser = RobotFileParser()
    parser.parse(robots.body.decode(robots.charset or "utf-8", errors="replace").splitlines())
    if not parser.can_fetch(user_agent, url):
        raise FetchError(
            f"{robots_url} does not allow {user_agent!r} to fetch {url}; "
            "the user can fetch it themselves"
        )
