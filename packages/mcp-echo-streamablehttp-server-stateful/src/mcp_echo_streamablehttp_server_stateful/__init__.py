"""Stateful MCP diagnostic server: the nine echo tools plus per-session memory."""

__version__ = "0.1.0"
