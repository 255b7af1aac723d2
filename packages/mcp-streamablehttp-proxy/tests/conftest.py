"""Fixtures: the proxy as a real process on a loopback port, wrapping real stdio servers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from proxy_testkit import Proxy, running_proxy


@pytest.fixture(scope="module")
def peer_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """One proxy over the stdio peer, shared by a module's tests."""
    with running_proxy(tmp_path_factory.mktemp("proxy"), "--request-timeout", "2") as proxy:
        yield proxy
