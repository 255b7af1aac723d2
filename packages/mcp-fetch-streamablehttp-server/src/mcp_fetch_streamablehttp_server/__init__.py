"""A fetch tool for MCP that refuses to reach the network it runs in."""

from importlib.metadata import version

__version__ = version("mcp-fetch-streamablehttp-server")
