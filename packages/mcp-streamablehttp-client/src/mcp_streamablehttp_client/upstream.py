"""The HTTP side of the bridge: an httpx2 client whose failures become JSON-RPC errors.

The SDK's StreamableHTTP transport surfaces a JSON-RPC error body on a non-2xx
answer as the reply to the request it answered, but lets an exception from the
connection or the OAuth flow end the whole transport. A desktop client must get
an answer instead, so those exceptions are turned into such bodies here.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx2
from mcp.client.auth import OAuthFlowError
from mcp_oauth_gateway_core.jsonrpc import error_body

from mcp_streamablehttp_client.auth import GatewayAuth, LoginRequired
from mcp_streamablehttp_client.storage import LockTimeout

logger = logging.getLogger(__name__)

# JSON-RPC implementation-defined server errors (-32000 to -32099).
UNREACHABLE = -32000
AUTH_FAILED = -32001


def error_response(
    request: httpx2.Request, status: int, code: int, message: str
) -> httpx2.Response:
    return httpx2.Response(
        status,
        headers={"Content-Type": "application/json"},
        content=error_body(code, message),
        request=request,
    )


def describe(exc: BaseException, url: str) -> tuple[int, int, str]:
    """(HTTP status, JSON-RPC code, message) for a failure reaching `url`."""
    if isinstance(exc, LoginRequired | OAuthFlowError | LockTimeout):
        return 401, AUTH_FAILED, f"Authorization with {url} failed: {exc}"
    if isinstance(exc, httpx2.TimeoutException):
        return 504, UNREACHABLE, f"{url} did not answer in time"
    if isinstance(exc, httpx2.TransportError):
        return 502, UNREACHABLE, f"Cannot reach {url}: {exc or type(exc).__name__}"
    return 502, UNREACHABLE, f"Request to {url} failed: {type(exc).__name__}: {exc}"


class AnsweringClient(httpx2.AsyncClient):
    async def send(self, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        try:
            return await super().send(request, **kwargs)
        except (httpx2.HTTPError, OAuthFlowError, LoginRequired, LockTimeout) as exc:
            status, code, message = describe(exc, str(request.url))
            logger.warning("%s", message)
            return error_response(request, status, code, message)


def answering_client(auth: GatewayAuth, http_timeout: float) -> AnsweringClient:
    """Streams may stay quiet for long: reads wait five minutes, like the SDK's own client."""
    timeout = httpx2.Timeout(http_timeout, read=max(http_timeout, 300.0))
    return AnsweringClient(auth=auth, timeout=timeout, follow_redirects=False)
