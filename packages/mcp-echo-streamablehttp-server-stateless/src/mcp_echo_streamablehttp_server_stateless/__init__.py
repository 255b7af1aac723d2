"""Stateless MCP diagnostic server: what reached it, and how."""

from importlib.metadata import version

__version__ = version("mcp-echo-streamablehttp-server-stateless")
