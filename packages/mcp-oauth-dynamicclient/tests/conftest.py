"""Fixtures for the auth service's tests: a real Valkey, the GitHub stand-in, the real app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testsupport.authserver import AuthServer, run_auth_server
from testsupport.valkey import ValkeyProcess


@pytest.fixture
def auth(valkey_server: ValkeyProcess) -> Iterator[AuthServer]:
    """The auth service on a free port, signing users in through the GitHub stand-in."""
    with run_auth_server(valkey_server.url) as server:
        yield server
