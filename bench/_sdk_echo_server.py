"""The baseline: the smallest server the MCP SDK allows, one echo tool, nothing else.

`python -m bench._sdk_echo_server PORT [--stateful] [--json]`
"""

from __future__ import annotations

import sys

import uvicorn
from mcp.server.mcpserver import MCPServer


def main() -> None:
    port = int(sys.argv[1])
    stateful = "--stateful" in sys.argv
    json_response = "--json" in sys.argv
    server = MCPServer(name="sdk-baseline")

    @server.tool()
    def echo(message: str) -> str:
        return message

    app = server.streamable_http_app(stateless_http=not stateful, json_response=json_response)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
