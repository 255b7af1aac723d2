"""Client metadata rules shared by registration (RFC 7591/7592) and metadata documents.

Redirect URIs: https anywhere, or http on loopback only; no fragments, no
wildcards, no credentials. Loopback URIs match on any port, and `localhost`,
`127.0.0.1` and `[::1]` are one host (RFC 8252 §7.3): desktop clients pick a
free port at run time.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from mcp_oauth_dynamicclient.errors import OAuthError

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
GRANT_TYPES = ("authorization_code", "refresh_token")
STRING_FIELDS = (
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "software_id",
    "software_version",
    "jwks_uri",
)
MAX_REDIRECT_URIS = 20
MAX_FIELD_LENGTH = 2000
URI_CHARACTERS = re.compile(r"[\x21-\x7e]+")  # RFC 3986: no spaces, controls or non-ASCII


def invalid_metadata(description: str) -> OAuthError:
    return OAuthError("invalid_client_metadata", description)


def redirect_uri_problem(uri: object) -> str | None:
    """Why `uri` cannot be a redirect URI, or None."""
    if not isinstance(uri, str) or not uri:
        return "a redirect URI must be a non-empty string"
    if len(uri) > MAX_FIELD_LENGTH:
        return "redirect URI too long"
    if not URI_CHARACTERS.fullmatch(uri):
        # urlsplit drops tabs and line breaks and strips spaces, so it would vet a URI
        # other than the one stored and later sent to the browser.
        return (
            "a redirect URI must be printable ASCII without spaces; percent-encode the rest: "
            + ascii(uri)
        )
    if "*" in uri:
        return f"wildcards are not allowed in redirect URIs: {uri}"
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        return f"not a valid URI: {uri}"
    if "#" in uri:
        return f"redirect URIs must not contain a fragment: {uri}"
    if parts.username is not None or parts.password is not None:
        return f"redirect URIs must not contain credentials: {uri}"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return None
    if parts.scheme == "http":
        return (
            f"http redirect URIs are allowed on loopback only (127.0.0.1, [::1], localhost): {uri}"
        )
    return f"redirect URIs must be https (or http on loopback): {uri}"


def _loopback_key(uri: str) -> tuple[str, str, str] | None:
    parts = urlsplit(uri)
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return (parts.scheme, parts.path or "/", parts.query)
    return None


def redirect_uri_matches(registered: list[str], requested: str) -> bool:
    """Exact match, except that loopback URIs match on any port and any loopback name."""
    if requested in registered:
        return True
    try:
        wanted = _loopback_key(requested)
    except ValueError:
        return False
    return wanted is not None and any(_loopback_key(uri) == wanted for uri in registered)


def validate_client_metadata(
    body: Any, *, scopes_supported: list[str], allow_secret_methods: bool = True
) -> dict[str, Any]:
    """The client metadata to keep, or OAuthError with RFC 7591's error codes."""
    if not isinstance(body, dict):
        raise invalid_metadata("the request body must be a JSON object")
    redirect_uris = body.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not redirect_uris:
        raise OAuthError(
            "invalid_redirect_uri", "redirect_uris is required for the authorization code flow"
        )
    if len(redirect_uris) > MAX_REDIRECT_URIS:
        raise OAuthError("invalid_redirect_uri", f"at most {MAX_REDIRECT_URIS} redirect URIs")
    for uri in redirect_uris:
        if problem := redirect_uri_problem(uri):
            raise OAuthError("invalid_redirect_uri", problem)

    grant_types = body.get("grant_types", ["authorization_code"])
    response_types = body.get("response_types", ["code"])
    if not _string_list(grant_types) or not grant_types:
        raise invalid_metadata("grant_types must be a non-empty list of strings")
    if not _string_list(response_types) or not response_types:
        raise invalid_metadata("response_types must be a non-empty list of strings")
    if unsupported := [g for g in grant_types if g not in GRANT_TYPES]:
        raise invalid_metadata(f"unsupported grant_types {unsupported}; supported: {GRANT_TYPES}")
    if "authorization_code" not in grant_types:
        raise invalid_metadata("grant_types must include authorization_code")
    if response_types != ["code"]:
        raise invalid_metadata('response_types must be ["code"] for the authorization code grant')

    method = body.get("token_endpoint_auth_method", "client_secret_basic")
    allowed = AUTH_METHODS if allow_secret_methods else ("none",)
    if method not in allowed:
        raise invalid_metadata(f"token_endpoint_auth_method must be one of {', '.join(allowed)}")

    kept: dict[str, Any] = {
        "redirect_uris": list(redirect_uris),
        "grant_types": list(dict.fromkeys(grant_types)),
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    }
    scope = body.get("scope")
    if scope is not None:
        if not isinstance(scope, str):
            raise invalid_metadata("scope must be a space-separated string")
        if unknown := [s for s in scope.split() if s not in scopes_supported]:
            raise invalid_metadata(f"unknown scopes {unknown}; supported: {scopes_supported}")
        kept["scope"] = " ".join(scope.split())
    for name in STRING_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_FIELD_LENGTH:
            raise invalid_metadata(f"{name} must be a string of at most {MAX_FIELD_LENGTH} chars")
        kept[name] = value
    contacts = body.get("contacts")
    if contacts is not None:
        if not _string_list(contacts) or len(contacts) > 10:
            raise invalid_metadata("contacts must be a list of at most 10 strings")
        kept["contacts"] = contacts
    return kept


def _string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
