"""The fetch tool against real loopback sites (reached through the allow-list)."""

from __future__ import annotations

import pytest

from testsupport.mcp_client import mcp_client, text_of

pytestmark = pytest.mark.anyio


async def fetch(fetch_url: str, **arguments: object) -> tuple[bool, str]:
    async with mcp_client(fetch_url) as client:
        result = await client.call_tool("fetch", arguments)
    return bool(result.is_error), text_of(result)


async def test_html_becomes_markdown(fetch_url: str, site: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site}/page.html")
    assert not error, text
    assert text.startswith(f"Contents of {site}/page.html:")
    assert "# Routing MCP through one origin" in text
    assert "- Traefik routes each path" in text
    assert "[deployment guide](https://example.com/docs)" in text
    assert "alert(" not in text and "color: red" not in text


async def test_raw_returns_the_html(fetch_url: str, site: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site}/page.html", raw=True)
    assert not error
    assert "<h1>Routing MCP through one origin</h1>" in text


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/text.txt", "just some plain text\nline two"), ("/data.json", '"answer":42')],
)
async def test_other_text_types_come_as_they_are(
    fetch_url: str, site: str, path: str, expected: str
) -> None:
    error, text = await fetch(fetch_url, url=site + path)
    assert not error
    assert expected in text


async def test_binary_types_are_refused_clearly(fetch_url: str, site: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site}/image.png")
    assert error
    assert "image/png" in text and "not text" in text


async def test_long_content_comes_in_pages(fetch_url: str, site: str) -> None:
    error, first = await fetch(fetch_url, url=f"{site}/long.txt", max_length=4000)
    assert not error
    assert "start_index=4000" in first
    assert "11000 more characters" in first
    _, last = await fetch(fetch_url, url=f"{site}/long.txt", max_length=20000, start_index=14000)
    assert last.endswith("0123456789" * 100)
    assert "start_index=" not in last
    _, past = await fetch(fetch_url, url=f"{site}/long.txt", start_index=99999)
    assert "past the end" in past


async def test_redirects_are_followed_up_to_five(fetch_url: str, site: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site}/redirect/5")
    assert not error
    assert "Routing MCP through one origin" in text
    error, text = await fetch(fetch_url, url=f"{site}/redirect/6")
    assert error
    assert "more than 5 redirects" in text


async def test_redirect_loop_ends_with_a_clear_error(fetch_url: str, site: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site}/loop")
    assert error
    assert "redirects" in text


async def test_http_errors_are_tool_errors(fetch_url: str, site: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site}/missing")
    assert error
    assert "HTTP 404" in text


async def test_huge_chunked_body_is_cut_while_streaming(fetch_url: str, site: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site}/huge", max_length=10)
    assert not error
    assert "Only the first 102400 bytes" in text
    assert "start_index=10" in text


async def test_slow_drip_body_cannot_outlive_the_total_timeout(fetch_url: str, site: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site}/slow")
    assert error
    assert "gave up after 3 s" in text


async def test_robots_txt_is_honoured(fetch_url: str, site: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site}/private/secret.txt")
    assert error
    assert "does not allow" in text and "robots.txt" in text
    assert "robots say no" not in text


async def test_robots_403_means_keep_out(fetch_url: str, site_forbidding_robots: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site_forbidding_robots}/page.html")
    assert error
    assert "403" in text


async def test_no_robots_txt_means_allowed(fetch_url: str, site_without_robots: str) -> None:
    error, text = await fetch(fetch_url, url=f"{site_without_robots}/private/secret.txt")
    assert not error
    assert "robots say no" in text


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_both_protocol_eras(fetch_url: str, site: str, mode: str) -> None:
    async with mcp_client(fetch_url, mode=mode) as client:
        tools = (await client.list_tools()).tools
        result = await client.call_tool("fetch", {"url": f"{site}/text.txt"})
    assert [t.name for t in tools] == ["fetch"]
    assert "just some plain text" in text_of(result)


@pytest.mark.parametrize(
    "arguments",
    [{}, {"url": 5}, {"url": "http://x", "max_length": 0}, {"url": "http://x", "start_index": -1}],
)
async def test_bad_arguments_are_tool_errors(fetch_url: str, arguments: dict[str, object]) -> None:
    async with mcp_client(fetch_url) as client:
        result = await client.call_tool("fetch", arguments)
    assert result.is_error
