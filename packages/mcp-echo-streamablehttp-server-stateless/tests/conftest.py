from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from testsupport.processes import start_http_service

SECRET_VALUE = "s3cr3t-value-that-must-not-leak"


def echo_command() -> str:
    path = shutil.which("mcp-echo-streamablehttp-server-stateless")
    assert path, "console script not installed: run `just setup`"
    return path


@pytest.fixture
def secret_value() -> str:
    """An environment value the server holds that no tool output may reveal."""
    return SECRET_VALUE


@pytest.fixture(scope="module")
def echo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server as a child process; yields the /mcp URL."""
    proc, base = start_http_service(
        [echo_command(), "--allowed-origins", "https://inspector.example"],
        log_dir=tmp_path_factory.mktemp("echo-stateless"),
        env={"DEMO_API_TOKEN": SECRET_VALUE, "MCP_ECHO_MAX_BODY_BYTES": "65536"},
    )
    try:
        yield base + "/mcp"
    finally:
        proc.stop()
