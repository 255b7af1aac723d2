"""A server on the official SDK that needs the user's input mid-call (MCP 2026-07-28 style).

`python modern_peer.py PORT`: stateless StreamableHTTP at /mcp, no OAuth. Its `ask`
tool returns `input_required` with an elicitation until the retry carries the
answer, and counts the rounds in `requestState`, so a test sees both legs.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    InputRequiredResult,
    TextContent,
)

server = MCPServer(name="modern-peer", instructions="asks before it answers")


@server.tool()
async def ask(question: str, ctx: Context) -> CallToolResult | InputRequiredResult:
    """Ask the user `question` (by elicitation) and say what they answered."""
    answers: dict[str, Any] = dict(ctx.input_responses or {})
    if "name" not in answers:
        return InputRequiredResult(
            result_type="input_required",
            input_requests={
                "name": ElicitRequest(
                    params=ElicitRequestFormParams(
                        message=question,
                        requested_schema={
                            "type": "object",
                            "properties": {"name": {"type": "string"}},
                            "required": ["name"],
                        },
                    )
                )
            },
            request_state="round-1",
        )
    answer = answers["name"]
    content = answer.content if hasattr(answer, "content") else answer.get("content")
    return CallToolResult(
        content=[TextContent(type="text", text=f"you said {content} after {ctx.request_state}")]
    )


@server.tool()
def echo(message: str) -> str:
    return message


if __name__ == "__main__":
    app = server.streamable_http_app(stateless_http=True, json_response=True)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
