"""Stateful MCP diagnostic server: the nine echo tools plus per-session memory."""

from importlib.metadata import version

__version__ = version("mcp-echo-streamablehttp-server-stateful")
