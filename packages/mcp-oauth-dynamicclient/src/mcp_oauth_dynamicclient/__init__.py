"""OAuth 2.1 authorization server and ForwardAuth endpoint for MCP servers."""

__version__ = "0.1.0"
