"""The auth service's OpenAPI 3.1 description, served at GET /openapi.json.

Written by hand beside the endpoints it describes, with every status an
endpoint can answer and the shape of each answer. Two tests keep it honest:
one checks that the app's routes and the described operations are the same
set (tests/test_openapi.py), and schemathesis sends generated requests to a
real running service and checks every answer against it
(tests/test_openapi_schemathesis.py).
"""

from __future__ import annotations

from typing import Any

from mcp_oauth_dynamicclient import __version__
from mcp_oauth_dynamicclient.client_metadata import (
    AUTH_METHODS,
    GRANT_TYPES,
    MAX_FIELD_LENGTH,
    MAX_REDIRECT_URIS,
    STRING_FIELDS,
)
from mcp_oauth_dynamicclient.config import Settings

JSON = "application/json"
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"

Schema = dict[str, Any]


def _ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema(name: str) -> Schema:
    return _ref("schemas", name)


def _headers(*names: str) -> dict[str, Schema]:
    return {name: _ref("headers", name) for name in names}


def json_answer(description: str, body: Schema, *headers: str) -> Schema:
    answer: Schema = {"description": description, "content": {JSON: {"schema": body}}}
    if headers:
        answer["headers"] = _headers(*headers)
    return answer


def oauth_error(description: str, *headers: str) -> Schema:
    return json_answer(description, schema("OAuthError"), "Cache-Control", *headers)


def page(description: str) -> Schema:
    """An HTML page (consent, or an error that must not be sent back to a client)."""
    return {
        "description": description,
        "content": {HTML: {"schema": {"type": "string"}}},
        "headers": _headers("X-Frame-Options", "Content-Security-Policy"),
    }


def redirect(description: str) -> Schema:
    return {"description": description, "headers": _headers("Location")}


def empty(description: str, *headers: str) -> Schema:
    answer: Schema = {"description": description}
    if headers:
        answer["headers"] = _headers(*headers)
    return answer


UNAVAILABLE = _ref("responses", "Unavailable")
RATE_LIMITED = _ref("responses", "RateLimited")


def _string(max_length: int | None = None, **extra: Any) -> Schema:
    result: Schema = {"type": "string", **extra}
    if max_length is not None:
        result["maxLength"] = max_length
    return result


def _query(name: str, description: str, *, required: bool = False, **kind: Any) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": kind or {"type": "string"},
    }


def _header(name: str, description: str, **kind: Any) -> Schema:
    return {"name": name, "in": "header", "description": description, "schema": kind or _string()}


# --- schemas -------------------------------------------------------------------------


def _client_metadata_properties() -> dict[str, Schema]:
    properties: dict[str, Schema] = {
        "redirect_uris": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_REDIRECT_URIS,
            "items": _string(MAX_FIELD_LENGTH, minLength=1),
            "description": "https anywhere, or http on loopback (any port); exact match; "
            "no fragment, wildcard or credentials",
        },
        "grant_types": {
            "type": "array",
            "minItems": 1,
            "items": {"enum": list(GRANT_TYPES)},
            "contains": {"const": "authorization_code"},
        },
        "response_types": {"type": "array", "items": {"const": "code"}, "minItems": 1},
        "token_endpoint_auth_method": {"enum": list(AUTH_METHODS)},
        "scope": _string(description="space-separated; each one the server supports"),
        "contacts": {"type": "array", "maxItems": 10, "items": {"type": "string"}},
    }
    properties.update({name: _string(MAX_FIELD_LENGTH) for name in STRING_FIELDS})
    return properties


def _client_information(*, with_secrets: bool) -> Schema:
    properties = {
        **_client_metadata_properties(),
        "client_id": _string(),
        "client_id_issued_at": {"type": "integer"},
        "client_secret_expires_at": {
            "type": "integer",
            "description": "0 = never; only for confidential clients",
        },
        "registration_client_uri": _string(format="uri"),
    }
    required = [
        "client_id",
        "client_id_issued_at",
        "registration_client_uri",
        "redirect_uris",
        "grant_types",
        "response_types",
        "token_endpoint_auth_method",
    ]
    if with_secrets:
        properties["client_secret"] = _string(description="only for confidential clients")
        properties["registration_access_token"] = _string(description="for RFC 7592 calls")
        required.append("registration_access_token")
    return {"type": "object", "required": required, "properties": properties}


def _schemas() -> dict[str, Schema]:
    strings = {"type": "array", "items": {"type": "string"}}
    return {
        "OAuthError": {
            "type": "object",
            "description": "RFC 6749 §5.2 / RFC 7591 §3.2.2 error",
            "required": ["error", "error_description"],
            "properties": {"error": _string(minLength=1), "error_description": _string()},
        },
        "PolicyRefusal": {
            "type": "object",
            "description": "a JSON-RPC error (MCP clients show its message): refused by policy",
            "required": ["jsonrpc", "id", "error"],
            "properties": {
                "jsonrpc": {"const": "2.0"},
                "id": {"type": "null"},
                "error": {
                    "type": "object",
                    "required": ["code", "message", "data"],
                    "properties": {
                        "code": {"const": -32003},
                        "message": _string(minLength=1),
                        "data": schema("OAuthError"),
                    },
                },
            },
        },
        "AuthorizationServerMetadata": {
            "type": "object",
            "description": "RFC 8414",
            "required": [
                "issuer",
                "authorization_endpoint",
                "token_endpoint",
                "registration_endpoint",
                "revocation_endpoint",
                "introspection_endpoint",
                "jwks_uri",
                "scopes_supported",
                "response_types_supported",
                "grant_types_supported",
                "token_endpoint_auth_methods_supported",
                "code_challenge_methods_supported",
                "authorization_response_iss_parameter_supported",
            ],
            "properties": {
                **{
                    name: _string(format="uri")
                    for name in (
                        "issuer",
                        "authorization_endpoint",
                        "token_endpoint",
                        "registration_endpoint",
                        "revocation_endpoint",
                        "introspection_endpoint",
                        "jwks_uri",
                    )
                },
                "scopes_supported": strings,
                "response_types_supported": {"type": "array", "items": {"const": "code"}},
                "response_modes_supported": strings,
                "grant_types_supported": strings,
                "token_endpoint_auth_methods_supported": strings,
                "revocation_endpoint_auth_methods_supported": strings,
                "introspection_endpoint_auth_methods_supported": strings,
                "code_challenge_methods_supported": {"type": "array", "items": {"const": "S256"}},
                "authorization_response_iss_parameter_supported": {"const": True},
                "client_id_metadata_document_supported": {"type": "boolean"},
            },
        },
        "ProtectedResourceMetadata": {
            "type": "object",
            "description": "RFC 9728",
            "required": ["resource", "authorization_servers", "scopes_supported"],
            "properties": {
                "resource": _string(format="uri"),
                "authorization_servers": {
                    "type": "array",
                    "minItems": 1,
                    "items": _string(format="uri"),
                },
                "scopes_supported": strings,
                "bearer_methods_supported": {"type": "array", "items": {"const": "header"}},
                "resource_name": _string(),
            },
        },
        "ClientMetadata": {
            "type": "object",
            "description": "RFC 7591 §2; other members are ignored",
            "required": ["redirect_uris"],
            "properties": _client_metadata_properties(),
        },
        "ClientUpdate": {
            "type": "object",
            "description": "RFC 7592 §2.2: the whole metadata again, with this client's id",
            "required": ["client_id", "redirect_uris"],
            "properties": {
                **_client_metadata_properties(),
                "client_id": _string(),
                "client_secret": _string(description="if sent, it must be the current one"),
            },
        },
        "ClientInformation": _client_information(with_secrets=True),
        "ClientConfiguration": _client_information(with_secrets=False),
        "TokenRequest": {
            "description": "one of the two grants; client_id (and client_secret) in the form "
            "unless the client authenticates with HTTP Basic",
            "oneOf": [
                {
                    "type": "object",
                    "required": ["grant_type", "code", "code_verifier"],
                    "properties": {
                        "grant_type": {"const": "authorization_code"},
                        "code": _string(),
                        "redirect_uri": _string(description="as sent to /authorize, if it was"),
                        "code_verifier": _string(pattern="^[A-Za-z0-9._~-]{43,128}$"),
                        "resource": _string(),
                        "client_id": _string(),
                        "client_secret": _string(),
                    },
                },
                {
                    "type": "object",
                    "required": ["grant_type", "refresh_token"],
                    "properties": {
                        "grant_type": {"const": "refresh_token"},
                        "refresh_token": _string(),
                        "scope": _string(description="at most what was granted"),
                        "resource": _string(),
                        "client_id": _string(),
                        "client_secret": _string(),
                    },
                },
            ],
        },
        "TokenResponse": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope"],
            "properties": {
                "access_token": _string(minLength=1, description="a JWT (RFC 9068)"),
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer", "minimum": 1},
                "refresh_token": _string(minLength=1),
                "scope": _string(),
            },
        },
        "TokenParameter": {
            "type": "object",
            "required": ["token"],
            "properties": {
                "token": _string(),
                "token_type_hint": _string(
                    description="access_token or refresh_token; only a hint, other values are "
                    "ignored (RFC 7009 §2.1, RFC 7662 §2.1)",
                ),
                "client_id": _string(),
                "client_secret": _string(),
            },
        },
        "Introspection": {
            "description": "RFC 7662 §2.2",
            "oneOf": [
                {
                    "type": "object",
                    "required": ["active"],
                    "properties": {"active": {"const": False}},
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "required": [
                        "active",
                        "token_type",
                        "scope",
                        "client_id",
                        "sub",
                        "aud",
                        "iss",
                        "exp",
                        "iat",
                        "jti",
                    ],
                    "properties": {
                        "active": {"const": True},
                        "token_type": {"const": "Bearer"},
                        "scope": _string(),
                        "client_id": _string(),
                        "sub": _string(),
                        "aud": _string(),
                        "iss": _string(),
                        "exp": {"type": "integer"},
                        "iat": {"type": "integer"},
                        "jti": _string(),
                        "username": _string(),
                    },
                },
            ],
        },
        "ConsentForm": {
            "type": "object",
            "required": ["request_id", "csrf_token", "decision"],
            "properties": {
                "request_id": _string(),
                "csrf_token": _string(),
                "decision": _string(description="approve grants; any other value denies"),
            },
        },
        "JWKS": {
            "type": "object",
            "description": "RFC 7517; empty when tokens are HS256",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty", "kid", "use", "alg"],
                        "properties": {
                            "kty": {"const": "RSA"},
                            "kid": _string(),
                            "use": {"const": "sig"},
                            "alg": {"const": "RS256"},
                            "n": _string(),
                            "e": _string(),
                        },
                    },
                }
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "redis"],
            "properties": {
                "status": {"enum": ["ok", "unavailable"]},
                "version": _string(),
                "redis": {"enum": ["ok", "unreachable"]},
                "revocations": {
                    "enum": ["mirrored", "asked of redis"],
                    "description": "whether /verify checks revocation from memory or asks Redis",
                },
            },
        },
        "AnyJSON": {"description": "the MCP message Traefik forwards; not read"},
    }


def _components() -> Schema:
    return {
        "schemas": _schemas(),
        "headers": {
            "Retry-After": {
                "description": "seconds to wait before trying again",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            },
            "Cache-Control": {"required": True, "schema": {"const": "no-store"}},
            "Location": {"required": True, "schema": _string(minLength=1)},
            "WWW-Authenticate": {
                "description": 'RFC 6750 §3: `Bearer realm="mcp-gateway", …, '
                'resource_metadata="…"` (RFC 9728 §5.1)',
                "required": True,
                "schema": _string(pattern="^Bearer "),
            },
            "X-Frame-Options": {"required": True, "schema": {"const": "DENY"}},
            "Content-Security-Policy": {
                "required": True,
                "schema": _string(pattern="frame-ancestors 'none'"),
            },
            "X-User-Id": {"required": True, "schema": _string(minLength=1)},
            "X-User-Name": {"required": True, "schema": _string()},
            "X-Client-Id": {"required": True, "schema": _string(minLength=1)},
            "X-Scopes": {"required": True, "schema": _string()},
        },
        "responses": {
            "Unavailable": json_answer(
                "Redis cannot answer: temporarily_unavailable",
                schema("OAuthError"),
                "Retry-After",
            ),
            "RateLimited": json_answer(
                "too many requests from this client address (slow_down); "
                "RATE_LIMIT_REGISTER / _AUTHORIZE / _TOKEN",
                schema("OAuthError"),
                "Retry-After",
                "Cache-Control",
            ),
        },
        "securitySchemes": {
            "accessToken": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "an access token of this server, for one MCP service",
            },
            "registrationAccessToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "RFC 7592: the registration_access_token /register returned",
            },
            "initialAccessToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "RFC 7591 §3: REGISTRATION_INITIAL_ACCESS_TOKEN, when set",
            },
            "clientSecretBasic": {"type": "http", "scheme": "basic"},
        },
    }


# --- operations ----------------------------------------------------------------------

VERIFY_HEADERS = [
    _header("X-Forwarded-Proto", "set by Traefik: the original request's scheme"),
    _header("X-Forwarded-Host", "set by Traefik: the original request's host"),
    _header(
        "X-Forwarded-Uri", "set by Traefik: the original path; its first segment names the service"
    ),
    _header("X-Forwarded-Method", "set by Traefik; OPTIONS (a CORS preflight) needs no token"),
    _header("MCP-Protocol-Version", "the MCP request's revision (per-tool policy)"),
    _header("Mcp-Method", "2026-07-28 routing header: the JSON-RPC method"),
    _header("Mcp-Name", "2026-07-28 routing header: the tool, prompt or resource"),
]
CLIENT_AUTH: list[Schema] = [{"clientSecretBasic": []}, {}]


def _verify(method: str) -> Schema:
    body = method == "head"

    def answer(description: str, *headers: str) -> Schema:
        if body:
            return empty(description, *headers)
        return json_answer(description, schema("OAuthError"), *headers)

    operation: Schema = {
        "operationId": f"verify_{method}",
        "tags": ["forwardauth"],
        "summary": "Traefik ForwardAuth: may this request reach the service?",
        "security": [{"accessToken": []}, {}],
        "parameters": VERIFY_HEADERS,
        "responses": {
            "200": empty(
                "the token is good (or a CORS preflight): identity headers for the service"
            ),
            "401": answer(
                "no token, or a bad, expired, foreign or revoked one", "WWW-Authenticate"
            ),
            "403": (
                empty("insufficient_scope (step up) or refused by policy", "WWW-Authenticate")
                if body
                else json_answer(
                    "insufficient_scope (step up: OAuthError and WWW-Authenticate), or "
                    "refused by policy (PolicyRefusal: no token can help)",
                    {"oneOf": [schema("OAuthError"), schema("PolicyRefusal")]},
                    "WWW-Authenticate",
                )
            ),
            "404": answer("the path names no MCP service of this gateway"),
            "503": answer("cannot check revocation: fail closed", "Retry-After"),
        },
    }
    if method == "post":
        operation["requestBody"] = {
            "required": False,
            "content": {JSON: {"schema": schema("AnyJSON")}},
        }
    return operation


def _paths() -> dict[str, Schema]:
    client_id_param = {
        "name": "client_id",
        "in": "path",
        "required": True,
        "schema": _string(),
    }
    not_a_client = json_answer(
        "not a registration URI: the id has a character no client id has (a line break)",
        schema("OAuthError"),
    )
    registration_security: list[Schema] = [{"registrationAccessToken": []}]
    form_body = {"required": True, "content": {FORM: {"schema": schema("TokenParameter")}}}
    return {
        "/verify": {"get": _verify("get"), "post": _verify("post"), "head": _verify("head")},
        "/.well-known/oauth-authorization-server": {
            "get": {
                "operationId": "authorization_server_metadata",
                "tags": ["discovery"],
                "responses": {
                    "200": json_answer("RFC 8414", schema("AuthorizationServerMetadata")),
                    "503": UNAVAILABLE,
                },
            }
        },
        "/.well-known/oauth-protected-resource": {
            "get": {
                "operationId": "protected_resource_metadata_root",
                "tags": ["discovery"],
                "responses": {
                    "200": json_answer(
                        "RFC 9728, for the gateway as a whole", schema("ProtectedResourceMetadata")
                    ),
                },
            }
        },
        "/.well-known/oauth-protected-resource/{path}": {
            "get": {
                "operationId": "protected_resource_metadata",
                "tags": ["discovery"],
                "parameters": [
                    {
                        "name": "path",
                        "in": "path",
                        "required": True,
                        "description": "`<service>/mcp`",
                        "schema": _string(),
                    }
                ],
                "responses": {
                    "200": json_answer(
                        "RFC 9728 §3.1, path-suffixed", schema("ProtectedResourceMetadata")
                    ),
                    "404": json_answer("no such protected resource", schema("OAuthError")),
                },
            }
        },
        "/register": {
            "post": {
                "operationId": "register",
                "tags": ["registration"],
                "summary": "RFC 7591 dynamic client registration",
                "security": [{"initialAccessToken": []}, {}],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": schema("ClientMetadata")}},
                },
                "responses": {
                    "201": json_answer("registered", schema("ClientInformation"), "Cache-Control"),
                    "400": oauth_error("invalid_client_metadata or invalid_redirect_uri"),
                    "401": oauth_error("an initial access token is required", "WWW-Authenticate"),
                    "429": RATE_LIMITED,
                    "503": UNAVAILABLE,
                },
            }
        },
        "/register/{client_id}": {
            "get": {
                "operationId": "read_registration",
                "tags": ["registration"],
                "summary": "RFC 7592 §2.1",
                "security": registration_security,
                "parameters": [client_id_param],
                "responses": {
                    "200": json_answer(
                        "the registration", schema("ClientConfiguration"), "Cache-Control"
                    ),
                    "401": oauth_error(
                        "wrong token or no such client (the same answer)", "WWW-Authenticate"
                    ),
                    "404": not_a_client,
                    "503": UNAVAILABLE,
                },
            },
            "put": {
                "operationId": "update_registration",
                "tags": ["registration"],
                "summary": "RFC 7592 §2.2",
                "security": registration_security,
                "parameters": [client_id_param],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": schema("ClientUpdate")}},
                },
                "responses": {
                    "200": json_answer("updated", schema("ClientConfiguration"), "Cache-Control"),
                    "400": oauth_error("invalid_client_metadata or invalid_redirect_uri"),
                    "401": oauth_error("wrong token or no such client", "WWW-Authenticate"),
                    "404": not_a_client,
                    "503": UNAVAILABLE,
                },
            },
            "delete": {
                "operationId": "delete_registration",
                "tags": ["registration"],
                "summary": "RFC 7592 §2.3; revokes every token of the client",
                "security": registration_security,
                "parameters": [client_id_param],
                "responses": {
                    "204": empty("deleted", "Cache-Control"),
                    "401": oauth_error("wrong token or no such client", "WWW-Authenticate"),
                    "404": not_a_client,
                    "503": UNAVAILABLE,
                },
            },
        },
        "/authorize": {
            "get": {
                "operationId": "authorize",
                "tags": ["authorization"],
                "summary": "authorization code + PKCE S256 (RFC 6749 §4.1, RFC 7636, RFC 8707)",
                "parameters": [
                    _query("response_type", "only code", required=True, enum=["code"]),
                    _query("client_id", "a registered client", required=True),
                    _query("redirect_uri", "one the client registered; optional if it has one"),
                    _query("state", "returned to the client unchanged"),
                    _query(
                        "code_challenge",
                        "base64url SHA-256 of the verifier",
                        required=True,
                        type="string",
                        pattern="^[A-Za-z0-9_-]{43}$",
                    ),
                    _query("code_challenge_method", "only S256", required=True, enum=["S256"]),
                    _query("resource", "RFC 8707: <issuer>/<service>/mcp", required=True),
                    _query("scope", "space-separated; default: what the service needs"),
                ],
                "responses": {
                    "200": page("the consent page"),
                    "302": redirect(
                        "back to the client: a code (consent remembered) or an "
                        "OAuth error with state and iss"
                    ),
                    "400": page("unknown client or unregistered redirect URI: never redirected"),
                    "429": RATE_LIMITED,
                    "503": UNAVAILABLE,
                },
            }
        },
        "/consent": {
            "post": {
                "operationId": "consent",
                "tags": ["authorization"],
                "summary": "the consent form (CSRF token and browser cookie checked)",
                "requestBody": {
                    "required": True,
                    "content": {FORM: {"schema": schema("ConsentForm")}},
                },
                "responses": {
                    "302": redirect("back to the client: a code, or access_denied"),
                    "303": redirect("on to the upstream identity provider"),
                    "400": page("the request expired or is unknown"),
                    "403": page("another browser, or a wrong CSRF token"),
                    "502": page("the upstream provider cannot be reached"),
                    "503": UNAVAILABLE,
                },
            }
        },
        "/callback": {
            "get": {
                "operationId": "callback",
                "tags": ["authorization"],
                "summary": "the upstream provider's redirect back",
                "parameters": [
                    _query("state", "the gateway's own upstream state"),
                    _query("code", "the upstream authorization code"),
                    _query("error", "the upstream error"),
                ],
                "responses": {
                    "302": redirect("back to the client with a code (or access_denied)"),
                    "400": page("the sign-in expired or was already used"),
                    "403": page("started in another browser, or the user is not allowed"),
                    "502": page("the upstream provider failed"),
                    "503": UNAVAILABLE,
                },
            }
        },
        "/token": {
            "post": {
                "operationId": "token",
                "tags": ["tokens"],
                "summary": "authorization_code and refresh_token grants (RFC 6749 §4.1.3, §6)",
                "security": CLIENT_AUTH,
                "requestBody": {
                    "required": True,
                    "content": {FORM: {"schema": schema("TokenRequest")}},
                },
                "responses": {
                    "200": json_answer("tokens", schema("TokenResponse"), "Cache-Control"),
                    "400": oauth_error(
                        "invalid_request, invalid_grant, unsupported_grant_type, "
                        "unauthorized_client, invalid_scope, invalid_target"
                    ),
                    "401": oauth_error("invalid_client"),
                    "429": RATE_LIMITED,
                    "503": UNAVAILABLE,
                },
            }
        },
        "/revoke": {
            "post": {
                "operationId": "revoke",
                "tags": ["tokens"],
                "summary": "RFC 7009",
                "security": CLIENT_AUTH,
                "requestBody": form_body,
                "responses": {
                    "200": empty("revoked, or nothing to revoke (RFC 7009 §2.2)", "Cache-Control"),
                    "400": oauth_error("invalid_request"),
                    "401": oauth_error("invalid_client"),
                    "503": UNAVAILABLE,
                },
            }
        },
        "/introspect": {
            "post": {
                "operationId": "introspect",
                "tags": ["tokens"],
                "summary": "RFC 7662, for confidential clients and their own tokens",
                "security": [{"clientSecretBasic": []}, {}],
                "requestBody": form_body,
                "responses": {
                    "200": json_answer(
                        "the token's state", schema("Introspection"), "Cache-Control"
                    ),
                    "400": oauth_error("invalid_request"),
                    "401": oauth_error("invalid_client (public clients too)"),
                    "503": UNAVAILABLE,
                },
            }
        },
        "/jwks": {
            "get": {
                "operationId": "jwks",
                "tags": ["tokens"],
                "responses": {"200": json_answer("the public signing keys", schema("JWKS"))},
            }
        },
        "/health": {
            "get": {
                "operationId": "health",
                "tags": ["operations"],
                "responses": {
                    "200": json_answer("ready: Redis answers", schema("Health")),
                    "503": json_answer("Redis is unreachable", schema("Health")),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["operations"],
                "responses": {"200": json_answer("this description", {"type": "object"})},
            }
        },
    }


def openapi_description(settings: Settings) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MCP OAuth gateway: authorization server and ForwardAuth",
            "version": __version__,
            "description": "OAuth 2.1 for MCP services behind Traefik: RFC 8414 and 9728 "
            "discovery, RFC 7591/7592 registration, authorization code with PKCE, tokens, "
            "RFC 7009 revocation, RFC 7662 introspection, and /verify for Traefik's "
            "ForwardAuth. Errors are OAuth JSON, or an HTML page where a browser must not "
            "be sent back to a client.",
        },
        "servers": [{"url": settings.gateway_issuer}],
        "paths": _paths(),
        "components": _components(),
    }
