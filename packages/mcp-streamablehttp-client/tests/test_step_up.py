"""Step-up: a tool that needs a scope the token lacks gets 403 insufficient_scope, and the
client signs in again for the larger scope instead of failing (MCP 2025-11-25)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from client_testkit import ClientHome

from scripts.stack import Stack
from testsupport.net import free_port

POLICY = {
    "services": {
        "fetch": {"rules": [{"method": "tools/call", "name": "fetch", "scopes": ["mcp:fetch"]}]}
    }
}


@pytest.fixture(scope="module")
def policed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(
        gateway_port=free_port(),
        state_dir=tmp_path_factory.mktemp("step-up-stack"),
        env={"POLICY": json.dumps(POLICY)},
        replicas={},
    ) as stack:
        yield stack


def test_a_scoped_tool_makes_the_client_sign_in_for_the_larger_scope(
    policed: Stack, home: ClientHome
) -> None:
    url = f"{policed.gateway_url}/fetch/mcp"
    assert home.run("--server-url", url, "--login").returncode == 0
    first_scope = home.entry(url)["tokens"]["scope"].split()
    assert "mcp:fetch" not in first_scope

    listed = home.run("--server-url", url, "--list-tools")  # not guarded: no new sign-in
    assert listed.returncode == 0 and "fetch" in listed.stdout
    assert home.visits() == 1

    # The tool runs once the token carries mcp:fetch, and refuses the address itself
    # (a tool error: exit 1 with the tool's own message, not an authorization failure).
    done = home.run("--server-url", url, "-c", "fetch url=http://169.254.169.254/")
    assert "cloud metadata" in done.stdout + done.stderr, done.stderr
    assert "Tool fetch reported an error" in done.stdout + done.stderr
    assert home.visits() == 2  # one more browser sign-in, for the step-up
    assert "mcp:fetch" in home.entry(url)["tokens"]["scope"].split()

    again = home.run("--server-url", url, "-c", "fetch url=http://169.254.169.254/")
    assert "cloud metadata" in again.stdout + again.stderr
    assert home.visits() == 2  # the larger token is kept
