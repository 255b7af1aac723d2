"""Dynamic client registration (RFC 7591) and its management API (RFC 7592)."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mcp_oauth_dynamicclient.client_metadata import validate_client_metadata
from mcp_oauth_dynamicclient.clients import Client, ClientRegistry, same_secret
from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.errors import NO_STORE, OAuthError, no_store_json
from mcp_oauth_dynamicclient.grants import Grants
from mcp_oauth_dynamicclient.request_bodies import BodyTooLarge, read_capped
from mcp_oauth_dynamicclient.storage import digest

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
# Compared against when the client does not exist, so timing says nothing either way.
_ABSENT = digest(secrets.token_urlsafe(32))


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _json_body(request: Request) -> Any:
    if "json" not in request.headers.get("content-type", ""):
        raise OAuthError("invalid_client_metadata", "send the metadata as application/json")
    try:
        body = await read_capped(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        raise OAuthError(
            "invalid_client_metadata", f"metadata larger than {MAX_BODY_BYTES} bytes"
        ) from None
    try:
        return json.loads(body)
    except ValueError:
        raise OAuthError("invalid_client_metadata", "the body is not valid JSON") from None
    except RecursionError:  # far deeper nesting than any client metadata has
        raise OAuthError("invalid_client_metadata", "the body is nested too deeply") from None


def _unauthorized() -> Response:
    """The same answer for a wrong token and for a client that does not exist."""
    return no_store_json(
        {
            "error": "invalid_token",
            "error_description": "a valid registration access token is required",
        },
        401,
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class RegistrationEndpoints:
    def __init__(self, settings: Settings, clients: ClientRegistry, grants: Grants) -> None:
        self.settings = settings
        self.issuer = settings.gateway_issuer
        self.clients = clients
        self.grants = grants

    def _response(self, client: Client, **secrets_shown: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "client_id": client.client_id,
            **client.metadata,
            "client_id_issued_at": client.issued_at,
            "registration_client_uri": f"{self.issuer}/register/{client.client_id}",
        }
        if client.auth_method != "none":
            body["client_secret_expires_at"] = client.secret_expires_at
        body.update(secrets_shown)
        return body

    async def register(self, request: Request) -> Response:
        gate = self.settings.registration_initial_access_token.get_secret_value()
        if gate and not hmac.compare_digest(_bearer(request).encode(), gate.encode()):
            return no_store_json(
                {
                    "error": "invalid_token",
                    "error_description": "registration needs an initial access token",
                },
                401,
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        try:
            metadata = validate_client_metadata(
                await _json_body(request), scopes_supported=self.settings.all_scopes
            )
        except OAuthError as exc:
            return exc.response()
        now = int(time.time())
        # Hex: an id that begins with "-" would read as an option to every command line.
        client = Client(client_id=secrets.token_hex(16), metadata=metadata, issued_at=now)
        shown: dict[str, str] = {}
        if client.auth_method != "none":
            secret = secrets.token_urlsafe(32)
            client.secret_digest = digest(secret)
            lifetime = self.settings.client_secret_lifetime
            client.secret_expires_at = now + lifetime if lifetime else 0
            shown["client_secret"] = secret
        registration_token = secrets.token_urlsafe(32)
        client.registration_token_digest = digest(registration_token)
        shown["registration_access_token"] = registration_token
        await self.clients.save(client)
        log.info("client %s registered (%s)", client.client_id, client.name)
        return no_store_json(self._response(client, **shown), 201)

    async def _authorized_client(self, request: Request) -> Client | None:
        client_id = request.path_params["client_id"]
        client = None if client_id.startswith("https://") else await self.clients.get(client_id)
        stored = client.registration_token_digest if client else _ABSENT
        if not same_secret(_bearer(request), stored) or client is None:
            return None
        return client

    async def read(self, request: Request) -> Response:
        client = await self._authorized_client(request)
        return _unauthorized() if client is None else no_store_json(self._response(client))

    async def update(self, request: Request) -> Response:
        client = await self._authorized_client(request)
        if client is None:
            return _unauthorized()
        try:
            body = await _json_body(request)
            if not isinstance(body, dict) or body.get("client_id") != client.client_id:
                raise OAuthError(
                    "invalid_client_metadata", "the body must carry this client's client_id"
                )
            if "client_secret" in body and not same_secret(
                str(body["client_secret"]), client.secret_digest
            ):
                raise OAuthError("invalid_client_metadata", "client_secret does not match")
            metadata = validate_client_metadata(body, scopes_supported=self.settings.all_scopes)
            if metadata["token_endpoint_auth_method"] != client.auth_method:
                raise OAuthError(
                    "invalid_client_metadata",
                    "token_endpoint_auth_method cannot change; register a new client instead",
                )
        except OAuthError as exc:
            return exc.response()
        client.metadata = metadata
        await self.clients.save(client)
        log.info("client %s updated", client.client_id)
        return no_store_json(self._response(client))

    async def delete(self, request: Request) -> Response:
        client = await self._authorized_client(request)
        if client is None:
            return _unauthorized()
        await self.clients.delete(client.client_id)
        families = await self.grants.revoke_client(client.client_id)
        log.info("client %s deleted; %d token families revoked", client.client_id, families)
        return Response(status_code=204, headers=NO_STORE)
