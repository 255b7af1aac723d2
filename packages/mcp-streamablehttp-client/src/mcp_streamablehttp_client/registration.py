"""RFC 7592 client configuration management: read, update and delete our registration."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from mcp_streamablehttp_client.storage import ServerCredentials

# Members the server sets; never sent back in an update (RFC 7592 §2.2).
SERVER_MANAGED = {
    "registration_access_token",
    "registration_client_uri",
    "client_id_issued_at",
    "client_secret_expires_at",
}


class RegistrationError(Exception):
    pass


def _endpoint(credentials: ServerCredentials) -> tuple[str, dict[str, str]]:
    registration = credentials.registration()
    uri = registration.get("registration_client_uri")
    token = registration.get("registration_access_token")
    if not uri or not token:
        raise RegistrationError(
            "No registration to manage for this server: sign in first (a dynamic registration "
            "keeps its registration access token; pre-registered and metadata-document clients "
            "have none)."
        )
    return uri, {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def _problem(response: httpx2.Response, doing: str) -> RegistrationError:
    try:
        body = response.json()
        detail = f"{body.get('error', '')}: {body.get('error_description', '')}".strip(": ")
    except ValueError:
        detail = response.text[:200]
    hint = " (the server no longer knows this client)" if response.status_code in (401, 404) else ""
    return RegistrationError(f"{doing} failed: HTTP {response.status_code} {detail}{hint}".strip())


def parse_assignment(item: str) -> tuple[str, Any]:
    """KEY=VALUE; a VALUE that parses as JSON (a list, a number) is taken as such."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise RegistrationError(f"{item!r} is not of the form KEY=VALUE")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    if key.strip() in ("redirect_uris", "grant_types", "response_types", "contacts") and isinstance(
        value, str
    ):
        value = [part for part in value.split(",") if part]
    return key.strip(), value


async def read(credentials: ServerCredentials, http: httpx2.AsyncClient) -> dict[str, Any]:
    uri, headers = _endpoint(credentials)
    response = await http.get(uri, headers=headers)
    if response.status_code != 200:
        raise _problem(response, "Reading the registration")
    data: dict[str, Any] = response.json()
    return data


async def update(
    credentials: ServerCredentials, http: httpx2.AsyncClient, changes: dict[str, Any]
) -> dict[str, Any]:
    """RFC 7592 §2.2: the update replaces the whole record, so send all of it, changed."""
    current = await read(credentials, http)
    body = {k: v for k, v in current.items() if k not in SERVER_MANAGED}
    body.update(changes)
    uri, headers = _endpoint(credentials)
    response = await http.put(uri, json=body, headers=headers)
    if response.status_code != 200:
        raise _problem(response, "Updating the registration")
    data: dict[str, Any] = response.json()
    stored = credentials.entry().get("client", {})
    kept = {k: v for k, v in data.items() if k not in SERVER_MANAGED or k == "client_id_issued_at"}
    credentials.file.update(credentials.server_url, client={**stored, **kept})
    if data.get("registration_access_token"):
        credentials.set_registration(
            str(data["registration_access_token"]), str(data.get("registration_client_uri", uri))
        )
    return data


async def delete(credentials: ServerCredentials, http: httpx2.AsyncClient) -> None:
    uri, headers = _endpoint(credentials)
    response = await http.delete(uri, headers=headers)
    if response.status_code not in (204, 200):
        raise _problem(response, "Deleting the registration")
    credentials.forget_client()
