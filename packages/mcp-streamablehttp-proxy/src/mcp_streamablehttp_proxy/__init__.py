"""Serve any stdio MCP server over StreamableHTTP, one child process per MCP session."""

from importlib.metadata import version

__version__ = version("mcp-streamablehttp-proxy")
