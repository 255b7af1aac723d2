"""Discovery: RFC 8414 authorization-server metadata and RFC 9728 resource metadata."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.errors import no_store_json
from mcp_oauth_dynamicclient.resources import Resources

AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]


def authorization_server_metadata(settings: Settings) -> dict[str, Any]:
    issuer = settings.gateway_issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "registration_endpoint": f"{issuer}/register",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "jwks_uri": f"{issuer}/jwks",
        "scopes_supported": settings.all_scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": settings.client_metadata_documents,
    }


def protected_resource_metadata(resources: Resources, service: str | None) -> dict[str, Any]:
    if service is None:
        scopes = list(resources.base_scopes)
        for needed in resources.required.values():
            scopes += [s for s in needed if s not in scopes]
        resource, name = resources.issuer, "MCP OAuth Gateway"
    else:
        scopes, resource, name = resources.scopes_for(service), resources.url(service), service
    return {
        "resource": resource,
        "authorization_servers": [resources.issuer],
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": name,
    }


class MetadataEndpoints:
    def __init__(self, settings: Settings, resources: Resources) -> None:
        self.server = authorization_server_metadata(settings)
        self.resources = resources

    async def authorization_server(self, _: Request) -> Response:
        return no_store_json(self.server)

    async def protected_resource(self, request: Request) -> Response:
        path = request.path_params.get("path", "").strip("/")
        if not path:
            return no_store_json(protected_resource_metadata(self.resources, None))
        service = path.removesuffix("/mcp") if path.endswith("/mcp") else None
        if service is None or service not in self.resources.services:
            return JSONResponse(
                {"error": "not_found", "error_description": f"no protected resource at /{path}"},
                status_code=404,
            )
        return no_store_json(protected_resource_metadata(self.resources, service))
