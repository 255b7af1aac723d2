"""Pytest fixtures every suite may use (registered by the root conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport.valkey import ValkeyProcess


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def valkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyProcess]:
    """One real Valkey for the session; tests isolate themselves with key prefixes or FLUSHDB."""
    server = ValkeyProcess(tmp_path_factory.mktemp("valkey")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests keep what a person may want to look at afterwards (screenshots, logs)."""
    path = Path(__file__).resolve().parent.parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path
