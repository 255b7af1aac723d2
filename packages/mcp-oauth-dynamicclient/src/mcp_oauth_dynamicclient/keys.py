"""Signing keys: RS256 (default) or HS256, loaded from PEM or generated once.

Rotation: put the new key in JWT_PRIVATE_KEY_FILE and the old one in
JWT_PREVIOUS_KEY_FILES; tokens signed by either verify, only the new one
signs, and /jwks publishes both until the old one is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, OctKey, RSAKey

from mcp_oauth_dynamicclient.config import Settings, split_list
from mcp_oauth_dynamicclient.storage import Store

log = logging.getLogger(__name__)

SigningKey = RSAKey | OctKey


class KeyConfigError(Exception):
    """The key settings cannot work; the message says what to change."""


def generate_rsa_pem() -> bytes:
    return RSAKey.generate_key(2048).as_pem(private=True)


def _rsa_from_pem(pem: bytes, source: str, *, private: bool = True) -> RSAKey:
    """An RSA key from PEM; retired keys only verify, so their public half is enough."""
    try:
        key = RSAKey.import_key(pem)
    except Exception as exc:  # joserfc raises several types for bad PEM
        raise KeyConfigError(f"{source} is not an RSA key in PEM form: {exc}") from None
    if private and not key.is_private:
        raise KeyConfigError(f"{source} holds a public key; the signing key must be private")
    key.ensure_kid()
    return key


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyConfigError(f"cannot read key file {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class SigningKeys:
    algorithm: str
    current: SigningKey
    verifying: KeySet  # current first, then retired keys

    @property
    def kid(self) -> str:
        kid = self.current.kid
        assert kid is not None
        return kid

    def jwks(self) -> dict[str, Any]:
        """Public keys for /jwks; HS256 has none to publish."""
        if self.algorithm != "RS256":
            return {"keys": []}
        keys = [
            {**key.as_dict(private=False), "use": "sig", "alg": "RS256"} for key in self.verifying
        ]
        return {"keys": keys}


async def load_signing_keys(settings: Settings, store: Store) -> SigningKeys:
    if settings.jwt_algorithm == "HS256":
        secret = settings.jwt_secret.get_secret_value()
        if len(secret) < 32:
            raise KeyConfigError("JWT_ALGORITHM=HS256 needs JWT_SECRET of at least 32 characters")
        oct_key = OctKey.import_key(secret)
        oct_key.ensure_kid()
        return SigningKeys("HS256", oct_key, KeySet([oct_key]))

    if settings.jwt_private_key_file:
        current = _rsa_from_pem(_read(settings.jwt_private_key_file), settings.jwt_private_key_file)
    else:
        # One generated key shared by every replica: the first to start wins.
        pem = generate_rsa_pem().decode()
        await store.redis.set(store.key("keys", "signing"), pem, nx=True)
        stored = await store.redis.get(store.key("keys", "signing"))
        current = _rsa_from_pem(str(stored).encode(), "the generated key in Redis")
        log.info("signing with the key generated in Redis (kid %s)", current.kid)
    previous = [
        _rsa_from_pem(_read(p), p, private=False)
        for p in split_list(settings.jwt_previous_key_files)
    ]
    return SigningKeys("RS256", current, KeySet([current, *previous]))
