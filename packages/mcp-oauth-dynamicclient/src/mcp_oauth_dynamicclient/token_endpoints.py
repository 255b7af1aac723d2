"""/token (RFC 6749), /revoke (RFC 7009) and /introspect (RFC 7662)."""

from __future__ import annotations

import logging

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from mcp_oauth_dynamicclient.clients import Client, ClientRegistry
from mcp_oauth_dynamicclient.errors import NO_STORE, OAuthError, invalid_client, no_store_json
from mcp_oauth_dynamicclient.grants import Grants
from mcp_oauth_dynamicclient.request_bodies import BodyTooLarge, is_form, read_form
from mcp_oauth_dynamicclient.tokens import AccessTokens, InvalidToken

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 16 * 1024


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _form(request: Request) -> FormData:
    if not is_form(request):
        raise OAuthError("invalid_request", "send parameters as application/x-www-form-urlencoded")
    try:
        return await read_form(request, MAX_FORM_BYTES)
    except BodyTooLarge:
        raise OAuthError("invalid_request", f"request larger than {MAX_FORM_BYTES} bytes") from None
    except ValueError:
        raise OAuthError("invalid_request", "too many form fields") from None


class TokenEndpoints:
    def __init__(self, clients: ClientRegistry, grants: Grants, access: AccessTokens) -> None:
        self.clients = clients
        self.grants = grants
        self.access = access

    async def _client(self, request: Request) -> tuple[Client, FormData]:
        form = await _form(request)
        return await self.clients.authenticate(request.headers, form), form

    async def token(self, request: Request) -> Response:
        try:
            client, form = await self._client(request)
            grant_type = _field(form, "grant_type")
            if grant_type not in ("authorization_code", "refresh_token"):
                raise OAuthError(
                    "unsupported_grant_type",
                    "grant_type must be authorization_code or refresh_token",
                )
            if not client.allows_grant(grant_type):
                raise OAuthError("unauthorized_client", f"this client may not use {grant_type}")
            if grant_type == "authorization_code":
                code = _field(form, "code")
                if not code:
                    raise OAuthError("invalid_request", "code is required")
                tokens = await self.grants.redeem_code(
                    code=code,
                    client_id=client.client_id,
                    redirect_uri=_field(form, "redirect_uri"),
                    code_verifier=_field(form, "code_verifier"),
                    resource=_field(form, "resource"),
                )
            else:
                refresh_token = _field(form, "refresh_token")
                if not refresh_token:
                    raise OAuthError("invalid_request", "refresh_token is required")
                tokens = await self.grants.refresh(
                    refresh_token=refresh_token,
                    client_id=client.client_id,
                    scope=_field(form, "scope"),
                    resource=_field(form, "resource"),
                )
        except OAuthError as exc:
            return exc.response()
        if not client.allows_grant("refresh_token"):
            tokens.pop("refresh_token", None)
        return no_store_json(tokens)

    async def revoke(self, request: Request) -> Response:
        try:
            client, form = await self._client(request)
        except OAuthError as exc:
            return exc.response()
        token = _field(form, "token")
        if not token:
            return OAuthError("invalid_request", "token is required").response()
        hint = _field(form, "token_type_hint")
        if hint != "access_token" and await self.grants.revoke_refresh_token(
            token, client.client_id
        ):
            log.info("client %s revoked a refresh token family", client.client_id)
        else:
            try:
                claims = self.access.verify(token, check_expiry=False)
            except InvalidToken:
                claims = None
            if claims is not None and claims["client_id"] == client.client_id:
                await self.grants.revoke_access_token(claims)
                log.info("client %s revoked access token %s", client.client_id, claims["jti"])
        # RFC 7009 §2.2: 200 whether or not there was anything to revoke.
        return Response(status_code=200, headers=NO_STORE)

    async def introspect(self, request: Request) -> Response:
        try:
            client, form = await self._client(request)
            if client.auth_method == "none":
                raise invalid_client("introspection needs an authenticated (confidential) client")
        except OAuthError as exc:
            return exc.response()
        token = _field(form, "token")
        if not token:  # RFC 7662 §2.1: REQUIRED
            return OAuthError("invalid_request", "token is required").response()
        inactive = no_store_json({"active": False})
        try:
            claims = self.access.verify(token)
        except InvalidToken:
            return inactive
        if claims["client_id"] != client.client_id or await self.grants.is_revoked(claims):
            return inactive
        return no_store_json(
            {
                "active": True,
                "token_type": "Bearer",
                **{
                    k: claims[k]
                    for k in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti")
                },
                "username": claims.get("login", ""),
            }
        )
