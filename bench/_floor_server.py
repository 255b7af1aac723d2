"""The floor for `bench auth`: a raw ASGI app that answers every request 200, nothing else.

`python -m bench._floor_server PORT` — served by uvicorn as `mcp-oauth-server serve`
serves the auth service (same loop, same HTTP parser, no access log), so the
gap between the two is the cost of the auth service's own work.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":  # lifespan: nothing to set up
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
    )
    await send({"type": "http.response.body", "body": b""})


def main() -> None:
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="info",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
