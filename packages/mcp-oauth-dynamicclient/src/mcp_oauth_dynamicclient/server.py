"""create_app(settings): the authorization server and ForwardAuth endpoint as an ASGI app.

Everything that needs Redis (the signing key may live there) is assembled in
the lifespan, so building an app does no I/O and tests can build many.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx2
from mcp_oauth_gateway_core.resolver import Resolver
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mcp_oauth_dynamicclient import __version__
from mcp_oauth_dynamicclient.authorize import AuthorizeEndpoints
from mcp_oauth_dynamicclient.clients import ClientRegistry
from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.errors import no_store_json
from mcp_oauth_dynamicclient.forwardauth import ForwardAuth
from mcp_oauth_dynamicclient.grants import Grants
from mcp_oauth_dynamicclient.keys import SigningKeys, load_signing_keys
from mcp_oauth_dynamicclient.metadata import MetadataEndpoints
from mcp_oauth_dynamicclient.metadata_documents import MetadataDocuments
from mcp_oauth_dynamicclient.openapi import openapi_description
from mcp_oauth_dynamicclient.ratelimit import Limit, RateLimiter, parse_networks
from mcp_oauth_dynamicclient.registration import RegistrationEndpoints
from mcp_oauth_dynamicclient.resources import Resources
from mcp_oauth_dynamicclient.revocations import Revocations
from mcp_oauth_dynamicclient.storage import Store
from mcp_oauth_dynamicclient.token_endpoints import TokenEndpoints
from mcp_oauth_dynamicclient.tokens import AccessTokens
from mcp_oauth_dynamicclient.upstream import build_provider

log = logging.getLogger(__name__)
HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed"}
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class Gateway:
    """The assembled service: one per app, built when the app starts."""

    store: Store
    keys: SigningKeys
    metadata: MetadataEndpoints
    registration: RegistrationEndpoints
    authorize: AuthorizeEndpoints
    tokens: TokenEndpoints
    forward_auth: ForwardAuth
    revocations: Revocations
    limited: dict[str, Endpoint]  # the rate-limited endpoints, by name


async def build_gateway(
    settings: Settings, store: Store, http: httpx2.AsyncClient, resolver: Resolver | None
) -> Gateway:
    keys = await load_signing_keys(settings, store)
    resources = Resources.from_settings(settings)
    access = AccessTokens(keys, settings.gateway_issuer, settings.access_token_lifetime)
    grants = Grants(settings, store, access)
    documents = (
        MetadataDocuments(settings, store, resolver) if settings.client_metadata_documents else None
    )
    clients = ClientRegistry(store, documents)
    registration = RegistrationEndpoints(settings, clients, grants)
    authorize = AuthorizeEndpoints(
        settings, store, clients, grants, resources, build_provider(settings, http)
    )
    tokens = TokenEndpoints(clients, grants, access)
    limiter = RateLimiter(store, parse_networks(settings.trusted_proxies))
    return Gateway(
        store=store,
        keys=keys,
        metadata=MetadataEndpoints(settings, resources),
        registration=registration,
        authorize=authorize,
        tokens=tokens,
        forward_auth=ForwardAuth(resources, access, grants, settings.policy_rules),
        revocations=grants.revocations,
        limited={
            "register": limiter.wrap(
                "register", Limit.parse(settings.rate_limit_register), registration.register
            ),
            "authorize": limiter.wrap(
                "authorize", Limit.parse(settings.rate_limit_authorize), authorize.authorize
            ),
            "token": limiter.wrap("token", Limit.parse(settings.rate_limit_token), tokens.token),
        },
    )


class AuthApp(Starlette):
    """The app, with /verify answered before Starlette's middleware and router.

    Traefik asks /verify before every MCP request, so it skips the layers it does
    not need: it catches its own storage errors and raises nothing else.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway: Gateway | None = getattr(self.state, "gateway", None)
        if (
            gateway is not None
            and scope["type"] == "http"
            and scope["path"] == "/verify"
            and scope["method"] in VERIFY_METHODS
        ):
            await gateway.forward_auth.asgi(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


VERIFY_METHODS = ("GET", "POST", "HEAD")


class VerifyRoute:
    """/verify's route, there for Starlette's method check (405): AuthApp answers first.

    An ASGI app, not a function, so Starlette hands it the raw scope."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway: Gateway = scope["app"].state.gateway
        await gateway.forward_auth.asgi(scope, receive, send)


def create_app(settings: Settings | None = None, *, resolver: Resolver | None = None) -> Starlette:
    """`resolver` is a seam for tests of metadata-document fetching (DNS answers)."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = Store.from_url(
            settings.redis_url,
            settings.redis_key_prefix,
            settings.redis_password.get_secret_value(),
        )
        async with httpx2.AsyncClient(timeout=10.0, follow_redirects=False) as http:
            app.state.gateway = gateway = await build_gateway(settings, store, http, resolver)
            mirror = asyncio.create_task(gateway.revocations.run())
            log.info("auth service ready: issuer %s", settings.gateway_issuer)
            try:
                yield
            finally:
                mirror.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await mirror
                await store.close()

    def route(path: str, pick: Callable[[Gateway], Endpoint], methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            return await pick(request.app.state.gateway)(request)

        return Route(path, endpoint, methods=methods)

    async def jwks(request: Request) -> Response:
        keys: SigningKeys = request.app.state.gateway.keys
        return JSONResponse(keys.jwks(), headers={"Cache-Control": "public, max-age=300"})

    async def health(request: Request) -> Response:
        gateway: Gateway = request.app.state.gateway
        try:
            await gateway.store.ping()
        except (RedisError, OSError):
            return JSONResponse({"status": "unavailable", "redis": "unreachable"}, 503)
        revocations = "mirrored" if gateway.revocations.mirrored else "asked of redis"
        return no_store_json(
            {"status": "ok", "version": __version__, "redis": "ok", "revocations": revocations}
        )

    description = openapi_description(settings)

    async def openapi(_: Request) -> Response:
        return JSONResponse(description, headers={"Cache-Control": "public, max-age=300"})

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.error("storage unavailable on %s: %s", request.url.path, type(exc).__name__)
        return JSONResponse(
            {"error": "temporarily_unavailable", "error_description": "storage is unavailable"},
            status_code=503,
            headers={"Retry-After": "5", "Cache-Control": "no-store"},
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        """Starlette's own refusals (no such route, wrong method, a malformed form) as JSON."""
        assert isinstance(exc, HTTPException)
        error = HTTP_ERRORS.get(exc.status_code, "invalid_request")
        return no_store_json(
            {"error": error, "error_description": str(exc.detail)},
            exc.status_code,
            dict(exc.headers or {}),
        )

    return AuthApp(
        exception_handlers={
            RedisError: unavailable,
            ConnectionError: unavailable,
            HTTPException: http_error,
        },
        routes=[
            # Answered by AuthApp itself; listed for the method check and the description.
            Route("/verify", VerifyRoute(), methods=list(VERIFY_METHODS)),
            route(
                "/.well-known/oauth-authorization-server",
                lambda g: g.metadata.authorization_server,
                ["GET"],
            ),
            route(
                "/.well-known/oauth-protected-resource",
                lambda g: g.metadata.protected_resource,
                ["GET"],
            ),
            route(
                "/.well-known/oauth-protected-resource/{path:path}",
                lambda g: g.metadata.protected_resource,
                ["GET"],
            ),
            route("/register", lambda g: g.limited["register"], ["POST"]),
            route("/register/{client_id:path}", lambda g: g.registration.read, ["GET"]),
            route("/register/{client_id:path}", lambda g: g.registration.update, ["PUT"]),
            route("/register/{client_id:path}", lambda g: g.registration.delete, ["DELETE"]),
            route("/authorize", lambda g: g.limited["authorize"], ["GET"]),
            route("/consent", lambda g: g.authorize.consent, ["POST"]),
            route("/callback", lambda g: g.authorize.callback, ["GET"]),
            route("/token", lambda g: g.limited["token"], ["POST"]),
            route("/revoke", lambda g: g.tokens.revoke, ["POST"]),
            route("/introspect", lambda g: g.tokens.introspect, ["POST"]),
            Route("/jwks", jwks, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
