from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from testsupport.processes import start_http_service


def stateful_command() -> str:
    path = shutil.which("mcp-echo-streamablehttp-server-stateful")
    assert path, "console script not installed: run `just setup`"
    return path


@pytest.fixture(scope="module")
def stateful_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, base = start_http_service(
        [stateful_command()], log_dir=tmp_path_factory.mktemp("echo-stateful")
    )
    try:
        yield base + "/mcp"
    finally:
        proc.stop()


@pytest.fixture
def short_lived_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose sessions expire after 1 s idle and which allows 3 at once."""
    proc, base = start_http_service(
        [stateful_command(), "--session-timeout", "1", "--max-sessions", "3"],
        log_dir=tmp_path_factory.mktemp("echo-stateful-short"),
    )
    try:
        yield base + "/mcp"
    finally:
        proc.stop()
