"""`$BROWSER` for the client's tests: note the visit in $BROWSER_VISITS, then sign in as alice
through the real consent page and local sign-in, and deliver the redirect to the listener
(unless $BROWSER_ABANDON is set: then the person never finishes signing in)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx2

from testsupport.oauth_browser import authorize_as


async def visit(url: str) -> None:
    final = await authorize_as(url, os.environ.get("OAUTH_BROWSER_LOGIN", "alice"))
    async with httpx2.AsyncClient(timeout=15.0) as http:
        await http.get(str(final))


if __name__ == "__main__":
    visits = os.environ.get("BROWSER_VISITS")
    if visits:
        with Path(visits).open("a") as out:
            out.write(sys.argv[1] + "\n")
    if not os.environ.get("BROWSER_ABANDON"):
        asyncio.run(visit(sys.argv[1]))
