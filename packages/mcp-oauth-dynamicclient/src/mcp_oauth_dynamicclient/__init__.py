"""OAuth 2.1 authorization server and ForwardAuth endpoint for MCP servers."""

from importlib.metadata import version

__version__ = version("mcp-oauth-dynamicclient")
