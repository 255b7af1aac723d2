"""OAuth error answers (RFC 6749 §5.2, RFC 7591 §3.2.2) and the no-store JSON response."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An error the client is told about in OAuth's JSON shape."""

    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return no_store_json(
            {"error": self.error, "error_description": self.description},
            self.status,
            self.headers,
        )


def no_store_json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    """401 invalid_client; a Basic challenge when the client tried Basic (RFC 6749 §5.2)."""
    headers = {"WWW-Authenticate": 'Basic realm="mcp-oauth"'} if basic else {}
    return OAuthError("invalid_client", description, 401, headers)
