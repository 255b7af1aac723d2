"""Fixtures: the local stack (real Traefik, auth service, echo servers) and a client home."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from client_testkit import ClientHome

from scripts.stack import Stack
from testsupport.net import free_port

# Short-lived access tokens, so expiry and refresh happen within a test.
TOKEN_LIFETIME = 4


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(
        gateway_port=free_port(),
        state_dir=tmp_path_factory.mktemp("client-stack"),
        env={"ACCESS_TOKEN_LIFETIME": str(TOKEN_LIFETIME)},
    ) as gateway:
        yield gateway


@pytest.fixture
def home(tmp_path: Path) -> ClientHome:
    return ClientHome(tmp_path)
