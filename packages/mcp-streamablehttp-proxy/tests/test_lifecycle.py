"""One child per session, and every way a child ends: counted with psutil, never a leftover."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import psutil
import pytest
from proxy_testkit import (
    ACCEPT_BOTH,
    INIT,
    PEER,
    Proxy,
    initialize,
    proxy_command,
    rpc_body,
    running_proxy,
    wait_until,
)

from testsupport.mcp_client import mcp_client, text_of


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=30.0) as client:
        yield client


def call(name: str, request_id: int = 7, **arguments: object) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def post(http: httpx2.Client, proxy: Proxy, session_id: str, body: object) -> httpx2.Response:
    return http.post(proxy.url, json=body, headers={**ACCEPT_BOTH, "mcp-session-id": session_id})


def first_text(response: httpx2.Response) -> str:
    return str(rpc_body(response)[-1]["result"]["content"][0]["text"])  # type: ignore[index]


def gone(pid: int) -> bool:
    """Gone for good: no process, and no zombie waiting to be reaped."""
    try:
        psutil.Process(pid)  # a zombie still counts as present
    except psutil.NoSuchProcess:
        return True
    return False


def test_twenty_parallel_sessions_each_see_their_own_child(peer_proxy: Proxy) -> None:
    async def one() -> int:
        async with mcp_client(peer_proxy.url) as client:
            first = int(text_of(await client.call_tool("whoami", {})))
            for _ in range(3):
                assert int(text_of(await client.call_tool("whoami", {}))) == first
            assert first in {p.pid for p in peer_proxy.children()}
            return first

    pids: list[int] = []

    async def main() -> None:
        async def run() -> None:
            pids.append(await one())

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(run)

    anyio.run(main)
    assert len(set(pids)) == 20
    wait_until(lambda: all(gone(pid) for pid in pids), what="all 20 children ended")
    assert peer_proxy.children() == []


def test_delete_ends_the_child_and_its_children(peer_proxy: Proxy, http: httpx2.Client) -> None:
    session_id = initialize(http, peer_proxy.url)
    pid = int(first_text(post(http, peer_proxy, session_id, call("whoami"))))
    grandchild = int(first_text(post(http, peer_proxy, session_id, call("grandchild", 8))))
    assert psutil.Process(grandchild).is_running()
    response = http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})
    assert response.status_code == 200
    assert gone(pid)
    wait_until(lambda: gone(grandchild), what="the child's own child ended")
    assert post(http, peer_proxy, session_id, call("whoami")).status_code == 404


def test_idle_session_expires(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--session-timeout", "1") as proxy:
        session_id = initialize(http, proxy.url)
        pid = int(first_text(post(http, proxy, session_id, call("whoami"))))
        wait_until(lambda: gone(pid), what="the idle session's child ended")
        assert proxy.children() == []
        assert post(http, proxy, session_id, call("whoami")).status_code == 404
        assert "idle" in proxy.log()


def test_proxy_shutdown_ends_every_child(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path) as proxy:
        sessions = [initialize(http, proxy.url) for _ in range(3)]
        pids = [int(first_text(post(http, proxy, s, call("whoami")))) for s in sessions]
        grandchild = int(first_text(post(http, proxy, sessions[0], call("grandchild", 9))))
        assert {p.pid for p in proxy.children()} >= {*pids, grandchild}
        os.kill(proxy.pid, signal.SIGTERM)
        assert proxy.process.proc is not None
        assert proxy.process.proc.wait(timeout=30) in (0, -signal.SIGTERM)
        for pid in [*pids, grandchild]:
            wait_until(lambda pid=pid: gone(pid), what=f"child {pid} ended")  # type: ignore[misc]


def test_children_die_with_a_killed_proxy(tmp_path: Path, http: httpx2.Client) -> None:
    """SIGKILL gives the proxy no chance to clean up: the parent-death signal does it."""
    with running_proxy(tmp_path) as proxy:
        sessions = [initialize(http, proxy.url) for _ in range(2)]
        pids = [int(first_text(post(http, proxy, s, call("whoami")))) for s in sessions]
        os.kill(proxy.pid, signal.SIGKILL)
        for pid in pids:
            wait_until(lambda pid=pid: gone(pid), what=f"orphan {pid} ended")  # type: ignore[misc]


def test_sigterm_ignored_means_sigkill(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--kill-grace", "0.5", env={"PEER_IGNORE_SIGTERM": "1"}) as proxy:
        session_id = initialize(http, proxy.url)
        pid = int(first_text(post(http, proxy, session_id, call("whoami"))))
        assert http.delete(proxy.url, headers={"mcp-session-id": session_id}).status_code == 200
        assert gone(pid)
        assert "SIGKILL" in proxy.log()


def test_crash_ends_the_session_with_a_clear_error(peer_proxy: Proxy, http: httpx2.Client) -> None:
    session_id = initialize(http, peer_proxy.url)
    pid = int(first_text(post(http, peer_proxy, session_id, call("whoami"))))
    (answer,) = rpc_body(post(http, peer_proxy, session_id, call("crash", 8)))
    assert answer["id"] == 8
    message = answer["error"]["message"]  # type: ignore[index]
    assert "exited with code 3" in message
    wait_until(lambda: gone(pid), what="the crashed child reaped")
    assert post(http, peer_proxy, session_id, call("whoami")).status_code == 404
    assert "peer: crashing on purpose" in peer_proxy.log()
    assert f"session={session_id[:8]} stderr" in peer_proxy.log()


def test_crash_noticed_while_a_grandchild_holds_the_pipes(
    peer_proxy: Proxy, http: httpx2.Client
) -> None:
    session_id = initialize(http, peer_proxy.url)
    before = {p.pid for p in peer_proxy.children()}
    (answer,) = rpc_body(post(http, peer_proxy, session_id, call("crash_leaving_grandchild", 8)))
    assert "exited with code 4" in answer["error"]["message"]  # type: ignore[index]
    wait_until(lambda: not ({p.pid for p in peer_proxy.children()} - before), what="no leftovers")
    assert post(http, peer_proxy, session_id, call("whoami")).status_code == 404


def test_garbage_on_stdout_is_dropped(peer_proxy: Proxy, http: httpx2.Client) -> None:
    session_id = initialize(http, peer_proxy.url)
    assert first_text(post(http, peer_proxy, session_id, call("garbage"))) == "still here"
    assert post(http, peer_proxy, session_id, call("whoami", 8)).status_code == 200
    assert http.get(peer_proxy.base + "/health").status_code == 200
    assert "non-JSON line" in peer_proxy.log()
    http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})


def test_slow_request_times_out(peer_proxy: Proxy, http: httpx2.Client) -> None:
    session_id = initialize(http, peer_proxy.url)
    (answer,) = rpc_body(post(http, peer_proxy, session_id, call("sleep", 8, seconds=30)))
    assert answer["id"] == 8
    assert "timed out after 2s" in answer["error"]["message"]  # type: ignore[index]
    # The child is told to stop working on it.
    cancelled = json.loads(first_text(post(http, peer_proxy, session_id, call("cancelled", 10))))
    assert cancelled == [8]
    # The session is still usable afterwards.
    assert first_text(post(http, peer_proxy, session_id, call("sleep", 9, seconds=0)))
    http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})


def test_oversized_answer_from_the_child_is_dropped(peer_proxy: Proxy, http: httpx2.Client) -> None:
    session_id = initialize(http, peer_proxy.url)
    (answer,) = rpc_body(post(http, peer_proxy, session_id, call("huge", 8, size=5_000_000)))
    assert "timed out" in answer["error"]["message"]  # type: ignore[index]
    assert "over the size limit" in peer_proxy.log()
    assert first_text(post(http, peer_proxy, session_id, call("huge", 9, size=10))) == "x" * 10
    http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})


def test_child_that_stops_reading_cannot_hang_requests(
    peer_proxy: Proxy, http: httpx2.Client
) -> None:
    session_id = initialize(http, peer_proxy.url)
    stopped = post(http, peer_proxy, session_id, call("stop_reading", 8))
    assert first_text(stopped) == "no longer reading stdin"
    statuses = []
    for request_id in range(10, 14):  # 100 KB each: the pipe and the write buffer fill up
        response = post(http, peer_proxy, session_id, call("echo", request_id, pad="x" * 100_000))
        statuses.append(response.status_code)
        if response.status_code == 504:
            assert "has not read its input for 2s" in response.json()["error"]["message"]
            break
    assert statuses[-1] == 504, statuses
    http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})


def test_session_limit(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--max-sessions", "2") as proxy:
        first = initialize(http, proxy.url)
        initialize(http, proxy.url)
        refused = http.post(proxy.url, json=INIT, headers=ACCEPT_BOTH)
        assert refused.status_code == 503
        assert "session limit reached (2" in refused.json()["error"]["message"]
        assert len(proxy.children()) == 2
        http.delete(proxy.url, headers={"mcp-session-id": first})
        assert http.post(proxy.url, json=INIT, headers=ACCEPT_BOTH).status_code == 200


def test_env_and_cwd_reach_the_child(tmp_path: Path, http: httpx2.Client) -> None:
    log_file = tmp_path / "proxy-events.log"
    with running_proxy(
        tmp_path,
        *("--env", "PEER_MARK=marked", "--cwd", str(tmp_path)),
        env={"LOG_FILE": str(log_file), "LOG_LEVEL": "DEBUG"},
    ) as proxy:
        session_id = initialize(http, proxy.url)
        seen = json.loads(first_text(post(http, proxy, session_id, call("environment"))))
        assert seen == {"cwd": str(tmp_path), "PEER_MARK": "marked"}
        http.delete(proxy.url, headers={"mcp-session-id": session_id})
        events = log_file.read_text()
        assert f"session={session_id[:8]} started pid=" in events
        assert f"session={session_id[:8]} ending: the client ended the session" in events
        assert session_id not in events  # the id is a credential: only its first 8 characters


def test_missing_command_fails_at_start_up() -> None:
    result = subprocess.run(
        [proxy_command(), "--port", "1", "--", "no-such-mcp-server-anywhere"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "'no-such-mcp-server-anywhere' not found on PATH" in result.stderr
    assert "Traceback" not in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "mcp_streamablehttp_proxy", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "no MCP server command given" in result.stderr


def test_command_from_the_environment(tmp_path: Path, http: httpx2.Client) -> None:
    command = " ".join(PEER)
    with running_proxy(tmp_path, command=[], env={"MCP_PROXY_COMMAND": command}) as proxy:
        session_id = initialize(http, proxy.url)
        assert post(http, proxy, session_id, call("whoami")).status_code == 200


def test_client_cancellation_reaches_the_child(peer_proxy: Proxy) -> None:
    async def main() -> list[object]:
        async with mcp_client(peer_proxy.url) as client:
            with anyio.move_on_after(1):
                await client.call_tool("sleep", {"seconds": 30})
            return list(json.loads(text_of(await client.call_tool("cancelled", {}))))

    cancelled = anyio.run(main)
    assert len(cancelled) == 1
