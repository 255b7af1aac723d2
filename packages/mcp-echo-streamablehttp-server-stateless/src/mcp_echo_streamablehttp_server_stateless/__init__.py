"""Stateless MCP diagnostic server: what reached it, and how."""

__version__ = "0.1.0"
