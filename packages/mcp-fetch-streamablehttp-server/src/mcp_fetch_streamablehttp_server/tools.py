"""The `fetch` tool: a page as Markdown (or raw), in pages of max_length characters."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_oauth_gateway_core.fetcher import FetchError, SafeFetcher
from pydantic import Field

from mcp_fetch_streamablehttp_server.config import Settings
from mcp_fetch_streamablehttp_server.convert import html_to_markdown, is_html, is_text
from mcp_fetch_streamablehttp_server.robots import check_robots

DESCRIPTION = (
    "Fetch a URL from the internet and return its content; HTML is simplified to Markdown. "
    "Long content comes in pages: call again with start_index to read on. Addresses inside "
    "private networks, loopback and cloud metadata services are refused."
)


def register_fetch_tool(server: MCPServer, settings: Settings, fetcher: SafeFetcher) -> None:
    @server.tool(name="fetch", description=DESCRIPTION)
    async def fetch(
        url: Annotated[str, Field(description="The http(s) URL to fetch")],
        max_length: Annotated[
            int, Field(gt=0, lt=1_000_000, description="Most characters to return")
        ] = 5000,
        start_index: Annotated[
            int, Field(ge=0, description="Start at this character (to continue a cut page)")
        ] = 0,
        raw: Annotated[bool, Field(description="Return HTML as it is, not as Markdown")] = False,
    ) -> str:
        try:
            if settings.respect_robots:
                await check_robots(fetcher, url, settings.user_agent)
            page = await fetcher.get(url)
        except FetchError as exc:
            raise ToolError(str(exc)) from None
        if page.status >= 400:
            raise ToolError(f"{page.url} answered HTTP {page.status}")
        if not is_text(page.content_type):
            raise ToolError(
                f"{page.url} is {page.content_type}, which is not text; fetch returns text only"
            )
        text = page.body.decode(page.charset or "utf-8", errors="replace")
        content = text if raw or not is_html(page.content_type, text) else html_to_markdown(text)
        if start_index >= len(content) and content:
            return f"No more content: start_index {start_index} is past the end ({len(content)})."
        chunk = content[start_index : start_index + max_length]
        parts = [f"Contents of {page.url}:", chunk]
        next_index = start_index + len(chunk)
        if next_index < len(content):
            parts.append(
                f"[Content cut: {len(content) - next_index} more characters. "
                f"Call fetch with start_index={next_index} to continue.]"
            )
        if page.truncated:
            parts.append(
                f"[Only the first {settings.max_bytes} bytes of the response were read "
                "(MCP_FETCH_MAX_BYTES).]"
            )
        return "\n".join(parts)
