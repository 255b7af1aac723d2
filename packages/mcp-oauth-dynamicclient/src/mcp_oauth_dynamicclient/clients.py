"""Clients: registered ones (in Redis) and metadata-document ones; client authentication."""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.datastructures import FormData, Headers

from mcp_oauth_dynamicclient.errors import OAuthError, invalid_client
from mcp_oauth_dynamicclient.metadata_documents import (
    MetadataDocuments,
    is_metadata_document_url,
)
from mcp_oauth_dynamicclient.storage import Store, digest


@dataclass
class Client:
    client_id: str
    metadata: dict[str, Any]
    issued_at: int = 0
    secret_digest: str = ""
    secret_expires_at: int = 0
    registration_token_digest: str = ""
    from_document: bool = False

    @property
    def auth_method(self) -> str:
        return str(self.metadata.get("token_endpoint_auth_method", "none"))

    @property
    def redirect_uris(self) -> list[str]:
        return list(self.metadata.get("redirect_uris", []))

    @property
    def name(self) -> str:
        return str(self.metadata.get("client_name") or self.client_id)

    def allows_grant(self, grant_type: str) -> bool:
        return grant_type in self.metadata.get("grant_types", ["authorization_code"])

    def to_record(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "metadata": self.metadata,
            "issued_at": self.issued_at,
            "secret_digest": self.secret_digest,
            "secret_expires_at": self.secret_expires_at,
            "registration_token_digest": self.registration_token_digest,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Client:
        return cls(
            client_id=record["client_id"],
            metadata=record["metadata"],
            issued_at=record.get("issued_at", 0),
            secret_digest=record.get("secret_digest", ""),
            secret_expires_at=record.get("secret_expires_at", 0),
            registration_token_digest=record.get("registration_token_digest", ""),
        )


def same_secret(presented: str, stored_digest: str) -> bool:
    return bool(stored_digest) and hmac.compare_digest(digest(presented), stored_digest)


class ClientRegistry:
    def __init__(self, store: Store, documents: MetadataDocuments | None) -> None:
        self.store = store
        self.documents = documents

    async def get(self, client_id: str) -> Client | None:
        """A registered client; a metadata-document client is fetched (raises on a bad one)."""
        if not client_id or len(client_id) > 2000:
            return None
        if is_metadata_document_url(client_id):
            if self.documents is None:
                return None
            metadata = await self.documents.load(client_id)
            return Client(client_id=client_id, metadata=metadata, from_document=True)
        record = await self.store.get_json("client", client_id)
        return Client.from_record(record) if record else None

    async def save(self, client: Client) -> None:
        await self.store.set_json(client.to_record(), "client", client.client_id)

    async def delete(self, client_id: str) -> None:
        await self.store.delete("client", client_id)

    async def authenticate(self, headers: Headers, form: FormData) -> Client:
        """The client making this token/revocation/introspection request, by its own method.

        Every failure is invalid_client (401) and says no more than needed.
        """
        basic = _basic_credentials(headers)
        form_id = _field(form, "client_id")
        if basic is not None:
            client_id, secret = basic
            if form_id and form_id != client_id:
                raise invalid_client("client_id differs from the Basic credentials", basic=True)
            method = "client_secret_basic"
        elif _field(form, "client_secret"):
            client_id, secret, method = form_id, _field(form, "client_secret"), "client_secret_post"
        else:
            client_id, secret, method = form_id, "", "none"
        if not client_id:
            raise invalid_client("client authentication is required", basic=basic is not None)
        try:
            client = await self.get(client_id)
        except OAuthError:
            client = None
        if client is None:
            raise invalid_client("unknown client or wrong credentials", basic=basic is not None)
        if client.auth_method != method:
            raise invalid_client(
                f"this client authenticates with {client.auth_method}", basic=basic is not None
            )
        if method != "none":
            if not same_secret(secret, client.secret_digest):
                raise invalid_client("unknown client or wrong credentials", basic=basic is not None)
            if client.secret_expires_at and client.secret_expires_at < time.time():
                raise invalid_client("the client secret has expired", basic=basic is not None)
        return client


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _basic_credentials(headers: Headers) -> tuple[str, str] | None:
    header = headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise invalid_client("malformed Basic credentials", basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise invalid_client("malformed Basic credentials", basic=True)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
