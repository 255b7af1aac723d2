from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.stack import Stack
from testsupport.net import free_port


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole local stack (scripts/stack.py) on a free port, as `just up` runs it."""
    stack = Stack(gateway_port=free_port(), state_dir=tmp_path_factory.mktemp("stack"))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
