from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.stack import Stack
from testsupport.net import free_port
from testsupport.oauth_client import TokenFor, login


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole local stack (scripts/stack.py) on a free port, as `just up` runs it."""
    with Stack(gateway_port=free_port(), state_dir=tmp_path_factory.mktemp("stack")) as stack:
        yield stack


@pytest.fixture
def token_for(gateway: Stack) -> TokenFor:
    """An access token for /<service>/mcp, signed in through consent and the local provider."""
    cache: dict[str, str] = {}

    async def get(service: str) -> str:
        if service not in cache:
            tokens = await login(gateway.gateway_url, f"{gateway.gateway_url}/{service}/mcp")
            cache[service] = tokens["access_token"]
        return cache[service]

    return get
