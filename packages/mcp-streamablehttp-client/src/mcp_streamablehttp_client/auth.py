"""OAuth for the bridge: the SDK's `OAuthClientProvider`, plus what a desktop bridge needs.

The SDK does discovery (RFC 9728, RFC 8414, the 2025-03-26 fallbacks), scope
selection, registration (RFC 7591) or a Client ID Metadata Document, PKCE,
`resource`, step-up and the token requests. Added here:

- expiry that survives restarts, and refreshing a margin before it;
- a refresh on 401 before any new sign-in;
- one refresh or sign-in at a time across processes (a file lock); whoever
  waited adopts what the winner stored instead of starting its own;
- `invalid_client` (a registration the server forgot) discards it and registers again;
- the RFC 7592 registration access token, which the SDK's record drops;
- never starting a browser when not allowed to: `LoginRequired` instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthTokenError
from mcp.client.auth.utils import extract_field_from_www_auth
from mcp.shared.auth import (
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthMetadata,
    OAuthToken,
    ProtectedResourceMetadata,
)
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from pydantic import AnyUrl
from rich.console import Console

from mcp_streamablehttp_client.browser import BrowserStep
from mcp_streamablehttp_client.callback import CallbackListener
from mcp_streamablehttp_client.config import Settings
from mcp_streamablehttp_client.storage import CredentialFile, ServerCredentials

logger = logging.getLogger(__name__)

Flow = AsyncGenerator[httpx2.Request, httpx2.Response]


def login_command(server_url: str) -> str:
    return f"mcp-streamablehttp-client --server-url {server_url} --login"


class LoginRequired(Exception):
    """No usable credentials, and this caller may not open a browser."""

    def __init__(self, server_url: str) -> None:
        super().__init__(
            f"Not signed in to {server_url}. Sign in with: {login_command(server_url)}"
        )
        self.server_url = server_url


def oauth_error(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def client_metadata(settings: Settings) -> OAuthClientMetadata:
    return OAuthClientMetadata(
        client_name=settings.client_name,
        redirect_uris=[AnyUrl("http://127.0.0.1/callback")],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method=settings.token_endpoint_auth_method,
    )


def credentials_for(settings: Settings) -> ServerCredentials:
    return ServerCredentials(CredentialFile(settings.credentials_path), settings.server_url)


class GatewayAuth(OAuthClientProvider):
    def __init__(
        self,
        settings: Settings,
        *,
        interactive: bool,
        raise_on_login: bool = True,
        console: Console | None = None,
    ) -> None:
        self.settings = settings
        self.credentials = credentials_for(settings)
        self.browser = BrowserStep(
            open_browser=settings.open_browser,
            timeout=settings.login_timeout,
            console=console or Console(stderr=True),
        )
        super().__init__(
            settings.server_url,
            client_metadata(settings),
            self.credentials,
            redirect_handler=self.browser.redirect,
            callback_handler=self.browser.callback,
            client_metadata_url=settings.client_metadata_url or None,
        )
        self.interactive = interactive
        self.raise_on_login = raise_on_login
        # Set when a sign-in was needed but not allowed; the bridge reads it.
        self.login_needed = False
        self._mutex = anyio.Lock()

    # --- state ---------------------------------------------------------------------

    async def _initialize(self) -> None:
        await super()._initialize()
        if self.context.client_info is None and self.settings.client_id:
            self.context.client_info = OAuthClientInformationFull(
                client_id=self.settings.client_id,
                client_secret=self.settings.client_secret or None,
                token_endpoint_auth_method=self.settings.token_endpoint_auth_method,
                redirect_uris=[AnyUrl("http://127.0.0.1/callback")],
            )
        self.context.token_expiry_time = self._with_margin(
            self.credentials.expires_at(), self.context.current_tokens
        )
        # Where to refresh after a restart, without discovery first.
        entry = self.credentials.entry()
        if self.context.oauth_metadata is None and isinstance(entry.get("oauth_metadata"), dict):
            self.context.oauth_metadata = OAuthMetadata.model_validate(entry["oauth_metadata"])
        if self.context.protected_resource_metadata is None and isinstance(
            entry.get("resource_metadata"), dict
        ):
            self.context.protected_resource_metadata = ProtectedResourceMetadata.model_validate(
                entry["resource_metadata"]
            )

    def _with_margin(self, expires_at: float | None, tokens: OAuthToken | None) -> float | None:
        """Refresh ahead of expiry; for short-lived tokens, at half their life."""
        if expires_at is None:
            return None
        lifetime = tokens.expires_in if tokens and tokens.expires_in else None
        margin = self.settings.refresh_margin
        if lifetime is not None:
            margin = min(margin, lifetime / 2)
        return expires_at - margin

    def _discard_client(self) -> None:
        logger.warning("the server no longer knows our registration: registering again")
        self.context.client_info = None
        self.context.clear_tokens()
        self.credentials.forget_client()

    async def _adopt_stored(self) -> bool:
        """Take what another copy stored meanwhile; True if the tokens changed."""
        stored = await self.credentials.get_tokens()
        current = self.context.current_tokens
        if stored is None or (current is not None and stored.access_token == current.access_token):
            return False
        self.context.current_tokens = stored
        self.context.client_info = (
            await self.credentials.get_client_info() or self.context.client_info
        )
        self.context.token_expiry_time = self._with_margin(self.credentials.expires_at(), stored)
        return True

    async def _handle_token_response(self, response: httpx2.Response) -> None:
        await super()._handle_token_response(response)
        self.credentials.set_metadata(
            self.context.oauth_metadata, self.context.protected_resource_metadata
        )
        self.context.token_expiry_time = self._with_margin(
            self.credentials.expires_at(), self.context.current_tokens
        )

    async def _handle_refresh_response(self, response: httpx2.Response) -> bool:
        if response.status_code != 200:
            error = oauth_error(await response.aread())
            logger.info("token refresh refused (HTTP %s %s)", response.status_code, error)
            if error == "invalid_client":
                self._discard_client()
            elif error == "invalid_grant":
                self.credentials.forget_tokens()
            self.context.clear_tokens()
            return False
        ok = await super()._handle_refresh_response(response)
        if ok:
            self.context.token_expiry_time = self._with_margin(
                self.credentials.expires_at(), self.context.current_tokens
            )
        return ok

    # --- the flow --------------------------------------------------------------------

    @staticmethod
    def _needs_auth(response: httpx2.Response) -> bool:
        return response.status_code == 401 or (
            response.status_code == 403
            and extract_field_from_www_auth(response, "error") == "insufficient_scope"
        )

    def _lock_timeout(self) -> float:
        return self.settings.login_timeout + 30.0

    async def _refresh(self) -> Flow:
        """Refresh under the cross-process lock, unless another copy already did."""
        async with self.credentials.file.login_lock(wait=self._lock_timeout()):
            if await self._adopt_stored() and self.context.is_token_valid():
                return
            if not self.context.can_refresh_token():
                return
            response = yield await self._refresh_token()
            await self._handle_refresh_response(response)

    async def _auth_flow(self, request: httpx2.Request) -> Flow:
        async with self._mutex:
            if not self._initialized:
                await self._initialize()
            self.context.protocol_version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)

            if not self.context.is_token_valid() and self.context.can_refresh_token():
                sub = Delegate(self._refresh())
                async for outgoing in sub:
                    sub.answer((yield outgoing))
            if self.context.is_token_valid():
                self._add_auth_header(request)
            response = yield request
            if not self._needs_auth(response):
                return

            if response.status_code == 401 and self.context.current_tokens is not None:
                # Revoked or expired early: a refresh may still do; another copy may have signed in.
                self.context.token_expiry_time = 0.0
                sub = Delegate(self._refresh())
                async for outgoing in sub:
                    sub.answer((yield outgoing))
                if self.context.is_token_valid():
                    self._add_auth_header(request)
                    response = yield request
                    if not self._needs_auth(response):
                        return

            if not self.interactive:
                self.login_needed = True
                if self.raise_on_login:
                    raise LoginRequired(self.context.server_url)
                return

            async with self.credentials.file.login_lock(wait=self._lock_timeout()):
                # Whoever held the lock may have just signed in for everyone.
                if response.status_code == 401 and await self._adopt_stored():
                    if not self.context.is_token_valid() and self.context.can_refresh_token():
                        response = yield await self._refresh_token()
                        await self._handle_refresh_response(response)
                    if self.context.is_token_valid():
                        self._add_auth_header(request)
                        response = yield request
                        if not self._needs_auth(response):
                            return
                check = await self._registration_check()
                if check is not None:
                    checked = yield check
                    if checked.status_code in (401, 403, 404):
                        self._discard_client()
                for attempt in (1, 2):
                    try:
                        sub = Delegate(self._sign_in(request, response))
                        async for outgoing in sub:
                            sub.answer((yield outgoing))
                        self.login_needed = False
                        return
                    except OAuthTokenError as exc:
                        if attempt == 2 or "invalid_client" not in str(exc):
                            raise
                        self._discard_client()

    async def _registration_check(self) -> httpx2.Request | None:
        """RFC 7592 read of a stored registration before sending a person to the browser
        with it: a client the server forgot would only fail at the authorization page."""
        registration = self.credentials.registration()
        uri = registration.get("registration_client_uri")
        token = registration.get("registration_access_token")
        if self.context.client_info is None or not uri or not token:
            return None
        return httpx2.Request("GET", uri, headers={"Authorization": f"Bearer {token}"})

    async def _sign_in(self, request: httpx2.Request, challenge: httpx2.Response) -> Flow:
        """The SDK's full flow, handed the challenge we already hold, through a fresh listener."""
        with CallbackListener(self.settings.callback_port) as listener:
            self.browser.listener = listener
            self.context.client_metadata.redirect_uris = [AnyUrl(listener.redirect_uri)]
            if not self.context.is_token_valid():
                self.context.clear_tokens()
            request.headers.pop("Authorization", None)
            flow = super()._auth_flow(request)
            try:
                first = await flow.__anext__()
                outgoing = await flow.asend(challenge) if first is request else first
                while True:
                    answer = yield outgoing
                    await self._keep_registration(outgoing, answer)
                    outgoing = await flow.asend(answer)
            except StopAsyncIteration:
                return
            finally:
                self.browser.listener = None
                await flow.aclose()

    async def _keep_registration(self, sent: httpx2.Request, answer: httpx2.Response) -> None:
        """The SDK's client record drops the RFC 7592 fields: keep them ourselves."""
        if sent.method != "POST" or answer.status_code != 201:
            return
        metadata = self.context.oauth_metadata
        endpoint = None
        if metadata is not None and metadata.registration_endpoint is not None:
            endpoint = str(metadata.registration_endpoint)
        if endpoint is not None and str(sent.url) != endpoint:
            return
        if endpoint is None and not sent.url.path.endswith("/register"):
            return
        try:
            body: Any = json.loads(await answer.aread())
        except ValueError:
            return
        if isinstance(body, dict) and body.get("registration_access_token"):
            self.credentials.set_registration(
                str(body["registration_access_token"]),
                str(body.get("registration_client_uri", "")),
            )

    # --- used by the commands ------------------------------------------------------------

    async def load(self) -> None:
        async with self._mutex:
            await self._initialize()

    def token_state(self) -> tuple[OAuthToken | None, float | None]:
        return self.context.current_tokens, self.credentials.expires_at()

    async def force_refresh(self) -> bool:
        """Refresh now, whatever the expiry says. False when there is nothing to refresh."""
        async with self._mutex:
            await self._initialize()
            if not self.context.can_refresh_token():
                return False
            self.context.token_expiry_time = 0.0
            async with httpx2.AsyncClient(timeout=self.settings.http_timeout) as http:
                sub = Delegate(self._refresh())
                async for outgoing in sub:
                    sub.answer(await http.send(outgoing))
            return self.context.is_token_valid()


class Delegate:
    """Runs a sub-flow inside a flow, since an async generator has no `yield from`:
    `async for outgoing in sub: sub.answer((yield outgoing))`."""

    def __init__(self, steps: Flow) -> None:
        self._steps = steps
        self._started = False
        self._answer: httpx2.Response | None = None

    def __aiter__(self) -> Delegate:
        return self

    async def __anext__(self) -> httpx2.Request:
        if not self._started:
            self._started = True
            return await self._steps.__anext__()
        if self._answer is None:
            raise RuntimeError("sub-flow step without an answer")
        answer, self._answer = self._answer, None
        return await self._steps.asend(answer)

    def answer(self, response: httpx2.Response) -> None:
        self._answer = response
