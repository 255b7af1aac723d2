"""Credentials on disk: one JSON file, readable only by its owner, shared by every copy.

Desktop apps start several bridges at once, so every read-modify-write holds an
exclusive lock on a sibling `.lock` file, and a second lock (`.login.lock`)
serialises refreshes and browser sign-ins across processes. Entries are keyed
by server URL, so one file serves several gateways.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
from mcp.shared.auth import (
    OAuthClientInformationFull,
    OAuthMetadata,
    OAuthToken,
    ProtectedResourceMetadata,
)


class LockTimeout(Exception):
    """Another copy held the sign-in lock for longer than we may wait."""


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class CredentialFile:
    """The whole file; `entry(server_url)` gives one server's view."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self.login_lock_path = path.with_name(path.name + ".login.lock")

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"servers": {}}
        except (OSError, ValueError) as exc:
            raise ValueError(f"credentials file {self.path} is unreadable: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            raise ValueError(f"credentials file {self.path} is not in the expected format")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2, sort_keys=True)
        temp.chmod(0o600)
        temp.replace(self.path)

    def load(self, server_url: str) -> dict[str, Any]:
        with _flock(self.lock_path):
            entry = self._read()["servers"].get(server_url, {})
        return dict(entry) if isinstance(entry, dict) else {}

    def update(self, server_url: str, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into one server's entry; a value of None removes that key."""
        with _flock(self.lock_path):
            data = self._read()
            entry = dict(data["servers"].get(server_url, {}))
            for key, value in changes.items():
                if value is None:
                    entry.pop(key, None)
                else:
                    entry[key] = value
            if entry:
                data["servers"][server_url] = entry
            else:
                data["servers"].pop(server_url, None)
            self._write(data)
        return entry

    @contextlib.asynccontextmanager
    async def login_lock(self, *, wait: float) -> AsyncIterator[None]:
        """Cross-process exclusive lock, polled so the event loop keeps running meanwhile."""
        self.login_lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.login_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockTimeout(
                            f"another copy has been signing in for over {wait:.0f} s"
                        ) from None
                    await anyio.sleep(0.1)
            yield
        finally:
            os.close(fd)


class ServerCredentials:
    """One server's tokens and registration: the SDK's `TokenStorage`, plus what it omits.

    The SDK keeps neither the absolute expiry (only `expires_in`) nor the RFC 7592
    registration access token; both are kept here beside its records.
    """

    def __init__(self, file: CredentialFile, server_url: str) -> None:
        self.file = file
        self.server_url = server_url

    def entry(self) -> dict[str, Any]:
        return self.file.load(self.server_url)

    async def get_tokens(self) -> OAuthToken | None:
        raw = self.entry().get("tokens")
        return OAuthToken.model_validate(raw) if isinstance(raw, dict) else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        expires_at = time.time() + tokens.expires_in if tokens.expires_in is not None else None
        self.file.update(
            self.server_url,
            tokens=tokens.model_dump(mode="json", exclude_none=True),
            expires_at=expires_at,
            obtained_at=time.time(),
        )

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        raw = self.entry().get("client")
        return OAuthClientInformationFull.model_validate(raw) if isinstance(raw, dict) else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.file.update(
            self.server_url, client=client_info.model_dump(mode="json", exclude_none=True)
        )

    def expires_at(self) -> float | None:
        value = self.entry().get("expires_at")
        return float(value) if isinstance(value, int | float) else None

    def registration(self) -> dict[str, str]:
        raw = self.entry().get("registration")
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    def set_registration(self, access_token: str, client_uri: str) -> None:
        self.file.update(
            self.server_url,
            registration={
                "registration_access_token": access_token,
                "registration_client_uri": client_uri,
            },
        )

    def set_metadata(
        self, oauth: OAuthMetadata | None, resource: ProtectedResourceMetadata | None
    ) -> None:
        self.file.update(
            self.server_url,
            oauth_metadata=oauth.model_dump(mode="json", exclude_none=True) if oauth else None,
            resource_metadata=(
                resource.model_dump(mode="json", exclude_none=True) if resource else None
            ),
        )

    def forget_tokens(self) -> None:
        self.file.update(self.server_url, tokens=None, expires_at=None, obtained_at=None)

    def forget_client(self) -> None:
        """A registration the server no longer knows: drop it and the tokens issued to it."""
        self.file.update(
            self.server_url,
            client=None,
            registration=None,
            oauth_metadata=None,
            resource_metadata=None,
            tokens=None,
            expires_at=None,
            obtained_at=None,
        )
