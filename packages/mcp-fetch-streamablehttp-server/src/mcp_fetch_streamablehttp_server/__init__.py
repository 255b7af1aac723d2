"""A fetch tool for MCP that refuses to reach the network it runs in."""

__version__ = "0.1.0"
