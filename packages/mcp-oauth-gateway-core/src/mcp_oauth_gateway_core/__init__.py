"""What several of the gateway's packages need: one owner for each piece.

- `logs`: the logging set-up; `commandline`: --version, flags over settings,
  one-line setting errors, serving with uvicorn; `settings`: settings types.
- `cors`: the Origin check and CORS answers of the MCP endpoints;
  `jsonrpc`: the JSON-RPC error bodies of refusals.
- `ssrf`, `resolver`, `pinned`, `fetcher`: fetching a URL given by someone
  else without letting it reach the network the fetcher runs in.
"""

from importlib.metadata import version

__version__ = version("mcp-oauth-gateway-core")
