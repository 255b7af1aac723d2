"""The loopback redirect listener (RFC 8252 §7.3): where the browser brings the code back.

A stdlib HTTP server on 127.0.0.1 in a thread, one per sign-in, on a free port
unless one is configured. The first redirect carrying our `state` wins; others
are told so and ignored, so a stray or forged request cannot end the flow.
"""

from __future__ import annotations

import html
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import anyio
from mcp.client.auth import OAuthFlowError
from mcp.shared.auth import AuthorizationCodeResult

CALLBACK_PATH = "/callback"
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; margin: 3em"><h1>{title}</h1><p>{text}</p></body></html>"""


class LoginTimeout(OAuthFlowError):
    """Nobody finished the browser step in time."""


class CallbackListener:
    def __init__(self, port: int = 0) -> None:
        self._result: dict[str, str] | None = None
        self._done = threading.Event()
        self.expected_state: str | None = None
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Query strings carry codes: never log them."""

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def __enter__(self) -> CallbackListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, title: str, text: str) -> None:
        body = PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlparse(handler.path)
        if url.path != CALLBACK_PATH:
            self._reply(handler, 404, "Not found", "This is a sign-in listener.")
            return
        params = {k: v[0] for k, v in parse_qs(url.query).items() if v}
        state = params.get("state")
        if self._done.is_set() or state is None or state != self.expected_state:
            self._reply(handler, 400, "Not accepted", "This redirect is not the one awaited.")
            return
        self._result = params
        self._done.set()
        if "error" in params:
            self._reply(handler, 200, "Sign-in failed", "You can close this window.")
        else:
            self._reply(handler, 200, "Signed in", "You can close this window and go back.")

    async def wait(self, seconds: float) -> AuthorizationCodeResult:
        deadline = time.monotonic() + seconds
        while not self._done.is_set():
            if time.monotonic() > deadline:
                raise LoginTimeout(f"the browser sign-in did not finish within {seconds:.0f} s")
            await anyio.sleep(0.05)
        params = self._result or {}
        if "error" in params:
            detail = params.get("error_description", "")
            raise OAuthFlowError(
                f"the authorization server refused: {params['error']}"
                + (f" ({detail})" if detail else "")
            )
        return AuthorizationCodeResult(
            code=params.get("code", ""), state=params.get("state"), iss=params.get("iss")
        )
