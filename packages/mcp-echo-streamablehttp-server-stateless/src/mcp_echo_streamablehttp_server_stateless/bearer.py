"""Reading a bearer JWT without verifying it (the gateway verified it already)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class TokenNotDecodable(ValueError):
    """The value is not a JWS compact serialisation with JSON header and claims."""


@dataclass(frozen=True)
class PeekedToken:
    header: dict[str, Any]
    claims: dict[str, Any]
    signature_bytes: int


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token from `Authorization: Bearer <token>` (scheme case-insensitive), or None."""
    value = headers.get("authorization", "")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _b64url_json(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise TokenNotDecodable(f"the {what} is not base64url-encoded JSON") from exc
    if not isinstance(value, dict):
        raise TokenNotDecodable(f"the {what} is JSON but not an object")
    return value


def peek(token: str) -> PeekedToken:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenNotDecodable(
            f"a JWT has 3 dot-separated parts, this token has {len(parts)} "
            "(an opaque token, or a JWE, cannot be decoded here)"
        )
    header = _b64url_json(parts[0], "header")
    claims = _b64url_json(parts[1], "payload")
    try:
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except binascii.Error as exc:
        raise TokenNotDecodable("the signature is not base64url") from exc
    return PeekedToken(header=header, claims=claims, signature_bytes=len(signature))
