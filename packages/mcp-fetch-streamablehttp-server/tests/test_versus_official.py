"""Side by side with the official `mcp-server-fetch` (PyPI) on the same pages: same text."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from mcp import Client, StdioServerParameters

from testsupport.mcp_client import mcp_client, text_of

pytestmark = pytest.mark.anyio

OFFICIAL = "mcp-server-fetch==2026.10.24"
SENTENCES = [
    "Routing MCP through one origin",
    "Every service is served from one origin, behind one certificate.",
    "Clients that look for OAuth metadata at the root find it there.",
    "Traefik routes each path",
    "ForwardAuth checks each request",
    "deployment guide",
]


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9']+", text)


async def official_fetch(url: str) -> str:
    uvx = shutil.which("uvx")
    assert uvx, "uvx (from uv) is needed to run the official server in its own environment"
    params = StdioServerParameters(
        command=uvx,
        args=["--from", OFFICIAL, "mcp-server-fetch", "--allow-private-ips", "--ignore-robots-txt"],
        env=dict(os.environ),  # uv needs the machine's certificate settings to reach PyPI
    )
    async with Client(params, mode="legacy") as client:
        result = await client.call_tool("fetch", {"url": url})
    assert not result.is_error, text_of(result)
    return text_of(result)


async def test_our_markdown_carries_the_same_text(fetch_url: str, site: str) -> None:
    url = f"{site}/page.html"
    theirs = await official_fetch(url)
    async with mcp_client(fetch_url) as client:
        ours = text_of(await client.call_tool("fetch", {"url": url}))
    their_words, our_words = " ".join(words(theirs)), " ".join(words(ours))
    theirs_has = [s for s in SENTENCES if " ".join(words(s)) in their_words]
    assert len(theirs_has) >= 4, theirs  # the official server read the page
    for sentence in SENTENCES:  # all of it, including what theirs carries
        assert " ".join(words(sentence)) in our_words, (sentence, ours)
