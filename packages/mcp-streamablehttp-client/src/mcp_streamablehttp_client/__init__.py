"""A stdio MCP server that forwards to an OAuth-protected StreamableHTTP MCP server."""

from importlib.metadata import version

__version__ = version("mcp-streamablehttp-client")
