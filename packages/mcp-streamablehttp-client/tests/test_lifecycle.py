"""The bridge ends when its desktop client goes: stdin closed, SIGTERM or SIGINT.

A real child process on real pipes, as a desktop client launches it; each ending
must be exit code 0, and a handshake-era session must be closed (DELETE) on the
server, so a restarted desktop client leaves neither an orphan nor a session.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import httpx2
import pytest
from client_testkit import ClientHome

from scripts.stack import Stack
from testsupport.mcp_client import initialize_body

# How long an ending may take before the test calls it a hang (the bridge aims at 2 s).
HANG = 15.0


def launch(home: ClientHome, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mcp_streamablehttp_client", "--server-url", url, *args],
        env=home.env(),
        cwd=home.root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def send(bridge: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert bridge.stdin is not None
    bridge.stdin.write(json.dumps(message) + "\n")
    bridge.stdin.flush()


def answer(bridge: subprocess.Popen[str], request_id: int) -> dict[str, Any]:
    """The bridge's answer to one request (notifications before it are skipped)."""
    assert bridge.stdout is not None
    for line in bridge.stdout:
        message: dict[str, Any] = json.loads(line)
        if message.get("id") == request_id:
            return message
    raise AssertionError(f"the bridge ended without answering {request_id}")


def ended(bridge: subprocess.Popen[str]) -> int:
    try:
        return bridge.wait(HANG)
    except subprocess.TimeoutExpired:
        bridge.kill()
        _, err = bridge.communicate()
        raise AssertionError(f"the bridge did not end: {err[-2000:]}") from None


def sessions(stack: Stack) -> int:
    service = next(s for s in stack.services if s.name == "echo-stateful")
    count: int = httpx2.get(f"{service.url}/health").json()["sessions"]
    return count


@pytest.mark.parametrize("protocol", ["auto", "handshake"])
@pytest.mark.parametrize("how", ["stdin closed", "SIGTERM", "SIGINT"])
def test_a_bridge_that_never_got_a_message_ends_at_once(
    stack: Stack, home: ClientHome, protocol: str, how: str
) -> None:
    """Not signed in, nothing asked: the desktop client restarted straight away."""
    bridge = launch(home, f"{stack.gateway_url}/echo-stateless/mcp", "--protocol", protocol)
    assert bridge.stderr is not None
    bridge.stderr.readline()  # it is up: it has said it is not signed in
    if how == "stdin closed":
        assert bridge.stdin is not None
        bridge.stdin.close()
    else:
        bridge.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGINT)
    assert ended(bridge) == 0


@pytest.mark.parametrize("how", ["stdin closed", "SIGTERM"])
def test_a_handshake_session_is_closed_on_the_server_when_the_client_goes(
    stack: Stack, home: ClientHome, how: str
) -> None:
    url = f"{stack.gateway_url}/echo-stateful/mcp"
    assert home.run("--server-url", url, "--login").returncode == 0
    before = sessions(stack)
    bridge = launch(home, url, "--protocol", "handshake")
    send(bridge, initialize_body("desktop"))
    assert "result" in answer(bridge, 1)
    send(bridge, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    send(bridge, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert "sessionInfo" in json.dumps(answer(bridge, 2))
    assert sessions(stack) == before + 1
    if how == "stdin closed":
        assert bridge.stdin is not None
        bridge.stdin.close()
    else:
        bridge.send_signal(signal.SIGTERM)
    assert ended(bridge) == 0
    assert sessions(stack) == before, "the bridge left its session open on the server"


def test_a_sign_in_in_progress_is_abandoned_and_its_lock_released(
    stack: Stack, home: ClientHome
) -> None:
    """The browser was opened and never came back; the desktop client quits meanwhile."""
    url = f"{stack.gateway_url}/echo-stateless/mcp"
    home.extra_env["BROWSER_ABANDON"] = "1"
    bridge = launch(home, url, "--browser-login", "--protocol", "handshake")
    send(bridge, initialize_body("desktop"))
    deadline = time.monotonic() + HANG
    while home.visits() == 0:  # the bridge is now waiting for the browser's redirect
        assert time.monotonic() < deadline and bridge.poll() is None, "no browser was opened"
        time.sleep(0.1)
    assert bridge.stdin is not None
    bridge.stdin.close()
    assert ended(bridge) == 0
    del home.extra_env["BROWSER_ABANDON"]
    again = home.run("--server-url", url, "--login", timeout=60)
    assert again.returncode == 0, again.stderr  # no lock or half-done flow left behind
    assert home.entry(url).get("tokens")
