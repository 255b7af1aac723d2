"""The person's part of the sign-in: open the system browser (or print the URL), then wait.

Everything goes to stderr: on the stdio bridge, stdout is the MCP wire.
"""

from __future__ import annotations

import threading
import webbrowser
from urllib.parse import parse_qs, urlparse

from mcp.shared.auth import AuthorizationCodeResult
from rich.console import Console

from mcp_streamablehttp_client.callback import CallbackListener


class BrowserStep:
    """The SDK's `redirect_handler` and `callback_handler`, bound to one loopback listener."""

    def __init__(self, *, open_browser: bool, timeout: float, console: Console) -> None:
        self.open_browser = open_browser
        self.timeout = timeout
        self.console = console
        self.listener: CallbackListener | None = None

    async def redirect(self, authorization_url: str) -> None:
        if self.listener is None:
            raise RuntimeError("no loopback listener for the sign-in")
        state = parse_qs(urlparse(authorization_url).query).get("state", [None])[0]
        self.listener.expected_state = state
        opened = self.open_browser and _browser_available()
        if opened:
            # Some browser commands (a $BROWSER script) only return when done: never wait on them.
            threading.Thread(target=webbrowser.open, args=(authorization_url,), daemon=True).start()
            self.console.print("Opened the browser to sign in. If it did not open, visit:")
        else:
            self.console.print("Sign in by opening this URL in a browser:")
        self.console.print(authorization_url, soft_wrap=True, markup=False, highlight=False)

    async def callback(self) -> AuthorizationCodeResult:
        if self.listener is None:
            raise RuntimeError("no loopback listener for the sign-in")
        with self.console.status("Waiting for the browser sign-in…"):
            return await self.listener.wait(self.timeout)


def _browser_available() -> bool:
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True
