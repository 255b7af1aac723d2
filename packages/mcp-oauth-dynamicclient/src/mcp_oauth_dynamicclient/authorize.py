"""The browser side: /authorize, the consent page, and /callback from the upstream provider.

Order: /authorize checks the client and redirect URI before anything is
redirected, then shows the consent page (CSRF token + a browser cookie).
Approving sends the browser upstream with a `state` bound to that cookie, so
/callback completes only in the browser that consented: a captured upstream
URL opened in someone else's browser gets an error, not their identity
(the confused-deputy flaw of CVE-2026-27124). A signed-in browser that has
consented to this client before skips the page.
"""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mcp_oauth_dynamicclient.client_metadata import redirect_uri_matches
from mcp_oauth_dynamicclient.clients import Client, ClientRegistry
from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.errors import NO_STORE, OAuthError
from mcp_oauth_dynamicclient.grants import Grants
from mcp_oauth_dynamicclient.request_bodies import BodyTooLarge, is_form, read_form
from mcp_oauth_dynamicclient.resources import Resources
from mcp_oauth_dynamicclient.storage import Store, digest
from mcp_oauth_dynamicclient.upstream import (
    IdentityProvider,
    UpstreamCodeRefused,
    UpstreamError,
    UserNotAllowed,
)

log = logging.getLogger(__name__)

CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
PENDING_SECONDS = 600
CONSENT_FORM_BYTES = 4096  # request_id, csrf_token, decision
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"], default=True),
)


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = TEMPLATES.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def error_page(status: int, title: str, message: str, hint: str = "") -> HTMLResponse:
    return page("error.html", status, title=title, message=message, hint=hint)


def with_query(uri: str, params: dict[str, str | None]) -> str:
    joiner = "&" if urlsplit(uri).query else "?"
    return uri + joiner + urlencode({k: v for k, v in params.items() if v is not None})


class AuthorizeEndpoints:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clients: ClientRegistry,
        grants: Grants,
        resources: Resources,
        provider: IdentityProvider,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clients = clients
        self.grants = grants
        self.resources = resources
        self.provider = provider
        secure = settings.gateway_issuer.startswith("https://")
        self.cookie = "__Host-mcp_browser" if secure else "mcp_browser"
        self.secure_cookie = secure

    # --- helpers ---------------------------------------------------------------

    def _browser(self, request: Request) -> str:
        return request.cookies.get(self.cookie, "")

    def _set_browser(self, response: Response, value: str) -> None:
        response.set_cookie(
            self.cookie,
            value,
            max_age=self.settings.browser_session_lifetime,
            path="/",
            secure=self.secure_cookie,
            httponly=True,
            samesite="lax",
        )

    async def _signed_in(self, browser: str) -> dict[str, Any] | None:
        return await self.store.get_json("browser", digest(browser)) if browser else None

    def _redirect_to_client(self, pending: dict[str, Any], **params: str) -> RedirectResponse:
        query = {**params, "state": pending.get("state"), "iss": self.settings.gateway_issuer}
        return RedirectResponse(
            with_query(pending["redirect_uri"], query), status_code=302, headers=NO_STORE
        )

    async def _complete(self, pending: dict[str, Any], user: dict[str, Any]) -> RedirectResponse:
        code = await self.grants.issue_code(
            {
                "client_id": pending["client_id"],
                "redirect_uri": pending["redirect_uri"],
                "redirect_uri_given": pending.get("redirect_uri_given", True),
                "code_challenge": pending["code_challenge"],
                "resource": pending["resource"],
                "scope": pending["scope"],
                "sub": user["sub"],
                "login": user["login"],
            }
        )
        log.info("code issued to client %s for user %s", pending["client_id"], user["sub"])
        return self._redirect_to_client(pending, code=code)

    async def _remember_consent(self, user: dict[str, Any], client_id: str) -> None:
        await self.store.redis.set(
            self.store.key("consent", user["sub"], client_id),
            "1",
            ex=self.settings.consent_lifetime,
        )

    # --- GET /authorize ---------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        params = request.query_params
        client_id = params.get("client_id", "")
        try:
            client = await self.clients.get(client_id)
        except OAuthError as exc:
            return error_page(400, "This application cannot sign in", exc.description)
        if client is None:
            return error_page(
                400,
                "Unknown application",
                "The client_id in this sign-in link is not registered with this gateway.",
            )
        redirect_uri = params.get("redirect_uri") or (
            client.redirect_uris[0] if len(client.redirect_uris) == 1 else ""
        )
        if not redirect_uri or not redirect_uri_matches(client.redirect_uris, redirect_uri):
            return error_page(
                400,
                "Redirect URI not registered",
                "The redirect_uri in this sign-in link is not one the application registered, "
                "so the gateway will not send you there.",
            )
        pending: dict[str, Any] = {
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            # RFC 6749 §4.1.3: /token must repeat it only if /authorize named it.
            "redirect_uri_given": bool(params.get("redirect_uri")),
            "state": params.get("state"),
        }
        try:
            pending.update(self._validated_request(params))
        except OAuthError as exc:
            return self._redirect_to_client(
                pending, error=exc.error, error_description=exc.description
            )

        browser = self._browser(request) or secrets.token_urlsafe(32)
        user = await self._signed_in(browser)
        if user is not None and await self.store.redis.exists(
            self.store.key("consent", user["sub"], client.client_id)
        ):
            response: Response = await self._complete(pending, user)
        else:
            response = await self._consent_page(client, pending, browser, user)
        self._set_browser(response, browser)
        return response

    def _validated_request(self, params: Any) -> dict[str, str]:
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "only response_type=code is supported")
        challenge = params.get("code_challenge", "")
        method = params.get("code_challenge_method", "")
        if not challenge:
            raise OAuthError("invalid_request", "code_challenge is required (PKCE)")
        if method != "S256":
            raise OAuthError("invalid_request", "code_challenge_method must be S256")
        if not CHALLENGE.match(challenge):
            raise OAuthError("invalid_request", "code_challenge must be a base64url SHA-256")
        resource = params.get("resource", "")
        if not resource:
            raise OAuthError("invalid_target", "resource is required (RFC 8707)")
        service = self.resources.service_of(resource)
        if service is None:
            raise OAuthError("invalid_target", f"{resource} is not a resource of this gateway")
        requested = params.get("scope", "").split() or self.resources.scopes_for(service)
        if unknown := [s for s in requested if s not in self.settings.all_scopes]:
            raise OAuthError("invalid_scope", f"unknown scopes: {' '.join(unknown)}")
        return {
            "code_challenge": challenge,
            "resource": self.resources.url(service),
            "service": service,
            "scope": " ".join(dict.fromkeys(requested)),
        }

    async def _consent_page(
        self,
        client: Client,
        pending: dict[str, Any],
        browser: str,
        user: dict[str, Any] | None,
    ) -> Response:
        request_id = secrets.token_urlsafe(16)
        csrf = secrets.token_urlsafe(24)
        await self.store.set_json(
            {**pending, "csrf": csrf, "binding": digest(browser)},
            "pending",
            request_id,
            ttl=PENDING_SECONDS,
        )
        return page(
            "consent.html",
            client_name=client.name,
            client_id=client.client_id,
            redirect_host=urlsplit(pending["redirect_uri"]).netloc,
            service=pending["service"],
            resource=pending["resource"],
            scope=pending["scope"],
            user=user["login"] if user else "",
            provider="GitHub" if self.provider.kind == "github" else "your identity provider",
            action=f"{self.settings.gateway_issuer}/consent",
            request_id=request_id,
            csrf_token=csrf,
        )

    # --- POST /consent ---------------------------------------------------------

    async def consent(self, request: Request) -> Response:
        try:
            form = await read_form(request, CONSENT_FORM_BYTES) if is_form(request) else FormData()
        except (BodyTooLarge, ValueError):
            return error_page(400, "Request refused", "The consent form is not one this page sent.")
        request_id = str(form.get("request_id", ""))
        pending = await self.store.pop_json("pending", request_id) if request_id else None
        if pending is None:
            return error_page(
                400, "This request has expired", "Start the sign-in again from your application."
            )
        browser = self._browser(request)
        if not browser or digest(browser) != pending["binding"]:
            return error_page(403, "Request refused", "This consent was not given in this browser.")
        presented = str(form.get("csrf_token", "")).encode()  # bytes: any text compares
        if not secrets.compare_digest(presented, str(pending["csrf"]).encode()):
            return error_page(403, "Request refused", "The form's security token did not match.")
        if form.get("decision") != "approve":
            log.info("user denied client %s", pending["client_id"])
            return self._redirect_to_client(
                pending, error="access_denied", error_description="the user denied access"
            )
        user = await self._signed_in(browser)
        if user is not None:
            await self._remember_consent(user, pending["client_id"])
            return await self._complete(pending, user)
        state = secrets.token_urlsafe(32)
        try:
            challenge = await self.provider.start(state=state, redirect_uri=self._callback_uri)
        except UpstreamError as exc:
            return error_page(502, "Sign-in is unavailable", str(exc))
        await self.store.set_json(
            {**pending, "verifier": challenge.code_verifier, "nonce": challenge.nonce},
            "upstream",
            digest(state),
            ttl=PENDING_SECONDS,
        )
        return RedirectResponse(challenge.url, status_code=303, headers=NO_STORE)

    @property
    def _callback_uri(self) -> str:
        return f"{self.settings.gateway_issuer}/callback"

    # --- GET /callback ---------------------------------------------------------

    async def callback(self, request: Request) -> Response:
        params = request.query_params
        state = params.get("state", "")
        pending = await self.store.pop_json("upstream", digest(state)) if state else None
        if pending is None:
            return error_page(
                400,
                "This sign-in has expired",
                "The sign-in link was already used or is too old. Start again from your "
                "application.",
            )
        browser = self._browser(request)
        if not browser or digest(browser) != pending["binding"]:
            log.warning(
                "upstream callback for client %s arrived in a browser that did not consent",
                pending["client_id"],
            )
            return error_page(
                403,
                "Sign-in refused",
                "This sign-in was started in another browser. If someone sent you this link, "
                "do not use it: it would have signed their application in as you.",
            )
        if params.get("error") or not params.get("code"):
            return self._redirect_to_client(
                pending, error="access_denied", error_description="sign-in was not completed"
            )
        try:
            upstream = await self.provider.finish(
                code=params["code"],
                redirect_uri=self._callback_uri,
                code_verifier=pending["verifier"],
                nonce=pending["nonce"],
            )
        except UserNotAllowed as exc:
            log.info("user %s is not allowed", exc.user.login)
            return error_page(
                403,
                "Access denied",
                f"You signed in as {exc.user.login}, who is not allowed to use this gateway.",
                "Ask the gateway's operator to add you to its allow-list.",
            )
        except UpstreamCodeRefused as exc:
            return error_page(
                400,
                "Sign-in failed",
                str(exc),
                "The sign-in was too old, already used or changed. Start again from your "
                "application.",
            )
        except UpstreamError as exc:
            return error_page(502, "Sign-in failed", str(exc))
        user = {"sub": upstream.id, "login": upstream.login}
        await self.store.set_json(
            user, "browser", digest(browser), ttl=self.settings.browser_session_lifetime
        )
        await self._remember_consent(user, pending["client_id"])
        return await self._complete(pending, user)
