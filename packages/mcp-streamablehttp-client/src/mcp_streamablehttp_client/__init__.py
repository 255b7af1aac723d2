"""A stdio MCP server that forwards to an OAuth-protected StreamableHTTP MCP server."""
