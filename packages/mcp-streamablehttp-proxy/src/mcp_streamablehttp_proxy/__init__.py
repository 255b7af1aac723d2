"""Serve any stdio MCP server over StreamableHTTP, one child process per MCP session."""

__version__ = "0.1.0"
