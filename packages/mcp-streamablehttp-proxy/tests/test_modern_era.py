"""MCP 2026-07-28 through the proxy: per-request calls served from a pool of children.

The official SDK client, forced to the modern era (`mode="2026-07-28"`, or
`mode="auto"` where `server/discover` must answer), and raw HTTP where the
point is a header or a byte. Process counts come from psutil; what a child
was sent comes from the stdio peer's own journal.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import psutil
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
)
from proxy_testkit import (
    ACCEPT_BOTH,
    EVERYTHING_COMMAND,
    PEER,
    TIME_COMMAND,
    Proxy,
    initialize,
    rpc_body,
    running_proxy,
    wait_until,
    warm_up,
)

from testsupport.mcp_client import mcp_client, sampling_reply, text_of

MODERN = "2026-07-28"
ENVELOPE = {
    PROTOCOL_VERSION_META_KEY: MODERN,
    CLIENT_INFO_META_KEY: {"name": "raw-test", "version": "1"},
    CLIENT_CAPABILITIES_META_KEY: {},
}
NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def modern_request(
    method: str, request_id: object = 1, *, token: object = None, **params: object
) -> dict[str, Any]:
    meta: dict[str, Any] = dict(ENVELOPE)
    if token is not None:
        meta["progressToken"] = token
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {**params, "_meta": meta},
    }


def tool_call(
    name: str, request_id: object = 1, token: object = None, **arguments: object
) -> dict[str, Any]:
    return modern_request("tools/call", request_id, token=token, name=name, arguments=arguments)


def modern_headers(body: dict[str, Any], **overrides: str) -> dict[str, str]:
    """The headers an honest 2026-07-28 client sends with `body`."""
    headers = {**ACCEPT_BOTH, "mcp-protocol-version": MODERN, "mcp-method": str(body["method"])}
    key = NAMED.get(str(body["method"]))
    if key is not None:
        headers["mcp-name"] = str(body["params"][key])
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return headers


def post(
    http: httpx2.Client, proxy: Proxy, body: Any, headers: dict[str, str] | None = None
) -> httpx2.Response:
    return http.post(
        proxy.url, json=body, headers=headers if headers is not None else modern_headers(body)
    )


def answer_text(response: httpx2.Response) -> str:
    return str(rpc_body(response)[-1]["result"]["content"][0]["text"])  # type: ignore[index]


def journal(http: httpx2.Client, proxy: Proxy) -> list[dict[str, Any]]:
    """Every message the (single) pool child has been sent so far."""
    return list(json.loads(answer_text(post(http, proxy, tool_call("journal", "journal")))))


def gone(pid: int) -> bool:
    try:
        psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    return False


def health(proxy: Proxy) -> dict[str, Any]:
    return dict(httpx2.get(proxy.base + "/health", timeout=10).json())


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def one_child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """A pool of exactly one peer: whatever reached a child is in its journal."""
    with running_proxy(
        tmp_path_factory.mktemp("modern"),
        *("--pool-size", "1", "--pool-idle-timeout", "0", "--pool-max-age", "0"),
        *("--request-timeout", "20"),
    ) as proxy:
        yield proxy


# -- discover, calls, result shape ---------------------------------------------


def test_discover_is_answered_from_the_pool_childs_initialize(one_child: Proxy) -> None:
    async def main() -> tuple[str, Any, Any, dict[str, Any]]:
        async with mcp_client(one_child.url, mode="auto") as client:
            raw = await client.session.send_discover(MODERN)
            return client.protocol_version, client.server_info, client.server_capabilities, raw

    version, info, capabilities, raw = anyio.run(main)
    assert version == MODERN  # auto mode found a modern server: discover answered
    assert info is not None and info.name == "stdio-peer" and info.version == "1.0"
    assert capabilities.tools is not None
    assert capabilities.logging is None  # a shared child's log lines reach no client
    assert raw["supportedVersions"] == [MODERN]
    assert raw["resultType"] == "complete" and raw["ttlMs"] == 0
    assert raw["_meta"][SERVER_INFO_META_KEY] == {"name": "stdio-peer", "version": "1.0"}
    with httpx2.Client(timeout=30) as http:
        methods = [entry["method"] for entry in journal(http, one_child)]
    assert "server/discover" not in methods  # the proxy answered it, the child never saw one
    assert methods.count("initialize") == 1  # the proxy's own handshake, once


def test_calls_reach_the_child_under_the_proxys_own_id(
    one_child: Proxy, http: httpx2.Client
) -> None:
    body = tool_call("echo", "client-id-abc", n=1)
    response = post(http, one_child, body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    (answer,) = rpc_body(response)
    assert answer["id"] == "client-id-abc"
    result = answer["result"]
    assert result["resultType"] == "complete"  # type: ignore[index]
    assert result["_meta"] == {SERVER_INFO_META_KEY: {"name": "stdio-peer", "version": "1.0"}}  # type: ignore[index]
    seen = json.loads(result["content"][0]["text"])  # type: ignore[index]
    assert isinstance(seen["id"], int)  # the proxy's id, not the client's
    assert seen["params"] == {"name": "echo", "arguments": {"n": 1}}  # no per-request envelope
    listed = rpc_body(post(http, one_child, modern_request("tools/list", 2)))[0]["result"]
    assert listed["ttlMs"] == 0 and listed["cacheScope"] == "private"  # type: ignore[index]
    assert "journal" in {t["name"] for t in listed["tools"]}  # type: ignore[index]


def test_sdk_client_lists_and_calls(one_child: Proxy) -> None:
    async def main() -> tuple[list[str], str, str]:
        async with mcp_client(one_child.url, mode=MODERN) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            pid = text_of(await client.call_tool("whoami", {}))
            # `region` declares an Mcp-Param-Region header: the client sends it, the proxy checks
            region = text_of(await client.call_tool("region", {"region": "eu-west"}))
            return names, pid, region

    names, pid, region = anyio.run(main)
    assert {"whoami", "echo", "region"} <= set(names)
    assert int(pid) in {p.pid for p in one_child.children()}
    assert region == "region eu-west"


def test_progress_comes_first_on_the_requests_own_stream(
    one_child: Proxy, http: httpx2.Client
) -> None:
    body = tool_call("progress", 5, token="my-token", tag="mine", steps=3)
    response = post(http, one_child, body)
    assert response.headers["content-type"].startswith("text/event-stream")
    messages = rpc_body(response)
    assert [m.get("method") for m in messages] == [
        "notifications/progress",
        "notifications/progress",
        "notifications/progress",
        None,
    ]
    assert [m["params"]["progressToken"] for m in messages[:3]] == ["my-token"] * 3  # type: ignore[index]
    assert [m["params"]["progress"] for m in messages[:3]] == [1, 2, 3]  # type: ignore[index]
    assert messages[-1]["id"] == 5
    child_saw = json.loads(messages[-1]["result"]["content"][0]["text"])  # type: ignore[index]
    assert isinstance(child_saw["token"], int) and child_saw["token"] != "my-token"
    # Something that is no progress token never reaches the child as one (a child that
    # read 2.0 back as 2 must not aim it at another request).
    odd = tool_call("progress", 6, token=2.0, tag="odd", steps=3)
    (only,) = rpc_body(post(http, one_child, odd))
    assert json.loads(only["result"]["content"][0]["text"])["token"] is None  # type: ignore[index]
    # A client that reads JSON only gets the result alone.
    json_only = {**modern_headers(body), "accept": "application/json"}
    plain = post(http, one_child, body, json_only)
    assert plain.headers["content-type"] == "application/json"
    assert plain.json()["id"] == 5

    progress: list[float] = []

    async def main() -> None:
        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append(value)

        async with mcp_client(one_child.url, mode=MODERN) as client:
            await client.call_tool(
                "progress", {"tag": "sdk", "steps": 3}, progress_callback=on_progress
            )

    anyio.run(main)
    assert progress == [1.0, 2.0, 3.0]


def test_notifications_are_acknowledged_and_go_nowhere(
    one_child: Proxy, http: httpx2.Client
) -> None:
    note = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    headers = {
        **ACCEPT_BOTH,
        "mcp-protocol-version": MODERN,
        "mcp-method": "notifications/cancelled",
    }
    response = http.post(one_child.url, json=note, headers=headers)
    assert response.status_code == 202
    assert "notifications/cancelled" not in [e["method"] for e in journal(http, one_child)]


# -- header checks: a request whose headers lie never runs ------------------------


def test_header_mismatch_never_reaches_the_child(one_child: Proxy, http: httpx2.Client) -> None:
    pid = answer_text(post(http, one_child, tool_call("whoami", 1)))
    before = len(journal(http, one_child))
    crash = tool_call("crash", 2)
    lies = [
        modern_headers(crash, mcp_name="whoami"),  # the gateway would authorize "whoami"
        modern_headers(crash, mcp_method="tools/list"),
        {k: v for k, v in modern_headers(crash).items() if k != "mcp-name"},
        modern_headers(crash, mcp_name="Crash"),
    ]
    for headers in lies:
        response = post(http, one_child, crash, headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == -32020
        assert response.json()["id"] == 2
    # A duplicated routing header: first-copy and last-copy readers would disagree.
    raw = [*modern_headers(crash, mcp_name="whoami").items(), ("mcp-name", "crash")]
    response = http.post(one_child.url, json=crash, headers=raw)
    assert response.status_code == 400 and response.json()["error"]["code"] == -32020
    # The envelope's version must be the header's.
    older = json.loads(json.dumps(crash))
    older["params"]["_meta"][PROTOCOL_VERSION_META_KEY] = "2025-11-25"
    response = post(http, one_child, older, modern_headers(crash))
    assert response.status_code == 400 and response.json()["error"]["code"] == -32020
    # Mcp-Param-* headers are checked against the tool's schema, as the child lists it.
    region = tool_call("region", 3, region="us-east")
    response = post(http, one_child, region, modern_headers(region, mcp_param_region="eu-west"))
    assert response.status_code == 400 and response.json()["error"]["code"] == -32020
    response = post(http, one_child, region)  # the argument without its header
    assert response.status_code == 400 and response.json()["error"]["code"] == -32020

    assert answer_text(post(http, one_child, tool_call("whoami", 4))) == pid  # nothing crashed
    seen = journal(http, one_child)[before:]
    assert [e["name"] for e in seen] == ["whoami", "journal"]  # not one of the lies
    # An honest request with a base64-wrapped name, and one with its Mcp-Param header, run.
    encoded = "=?base64?d2hvYW1p?="  # "whoami"
    whoami = tool_call("whoami", 5)
    assert (
        answer_text(post(http, one_child, whoami, modern_headers(whoami, mcp_name=encoded))) == pid
    )
    honest = post(http, one_child, region, modern_headers(region, mcp_param_region="us-east"))
    assert answer_text(honest) == "region us-east"


def test_what_the_revision_does_not_have_is_refused(one_child: Proxy, http: httpx2.Client) -> None:
    for method in ("initialize", "ping", "logging/setLevel", "resources/subscribe"):
        body = modern_request(method, 9, protocolVersion="2025-06-18", level="info", uri="x:/")
        response = post(http, one_child, body)
        assert response.status_code == 404, (method, response.text)
        assert response.json()["error"]["code"] == -32601
    listen = modern_request("subscriptions/listen", 9, notifications={"toolsListChanged": True})
    response = post(http, one_child, listen)
    assert response.status_code == 404
    assert "subscriptions/listen" in response.json()["error"]["message"]
    bad_params = modern_request("tools/call", 9, name="echo", arguments=[1])
    response = post(http, one_child, bad_params)
    assert response.status_code == 400 and response.json()["error"]["code"] == -32602
    batch = [tool_call("whoami", 1), tool_call("whoami", 2)]
    response = http.post(one_child.url, json=batch, headers=modern_headers(batch[0]))
    assert response.status_code == 400 and "batch" in response.json()["error"]["message"]
    posted_answer = {"jsonrpc": "2.0", "id": 1, "result": {}}
    response = http.post(one_child.url, json=posted_answer, headers=modern_headers(batch[0]))
    assert response.status_code == 400
    methods = [e["method"] for e in journal(http, one_child)]
    assert methods.count("initialize") == 1
    assert not {"ping", "logging/setLevel", "resources/subscribe", "subscriptions/listen"} & set(
        methods
    )


def test_versions_and_sessions_are_never_mixed(one_child: Proxy, http: httpx2.Client) -> None:
    body = tool_call("whoami", 1)
    unknown = post(http, one_child, body, modern_headers(body, mcp_protocol_version="2027-01-01"))
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["code"] == -32022
    assert error["data"]["supported"] == [
        "2024-11-05",
        "2025-03-26",
        "2025-06-18",
        "2025-11-25",
        MODERN,
    ]
    assert "2025-11-25, 2026-07-28" in error["message"]
    session_id = initialize(http, one_child.url)
    with_session = post(http, one_child, body, modern_headers(body, mcp_session_id=session_id))
    assert with_session.status_code == 400
    assert "Mcp-Session-Id" in with_session.json()["error"]["message"]
    handshake = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami"}}
    no_session = http.post(
        one_child.url, json=handshake, headers={**ACCEPT_BOTH, "mcp-protocol-version": "2025-06-18"}
    )
    assert no_session.status_code == 400
    assert "Missing Mcp-Session-Id" in no_session.json()["error"]["message"]
    get = http.get(
        one_child.url, headers={"accept": "text/event-stream", "mcp-protocol-version": MODERN}
    )
    assert get.status_code == 405 and get.headers["allow"] == "POST, OPTIONS"
    http.delete(one_child.url, headers={"mcp-session-id": session_id})


# -- the pool: many clients, bounds, deaths, retirement ---------------------------


def test_twenty_clients_with_colliding_ids_each_get_their_own_answers(tmp_path: Path) -> None:
    sent: dict[int, list[object]] = {}
    pids: set[int] = set()

    async def one(n: int) -> None:
        ids: list[object] = []

        async def record(request: httpx2.Request) -> None:
            ids.append(json.loads(request.content)["id"])

        progress: list[str | None] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append(message)

        async with (
            httpx2.AsyncClient(timeout=30, event_hooks={"request": [record]}) as http,
            Client(streamable_http_client(proxy.url, http_client=http), mode=MODERN) as client,
        ):
            echoed = text_of(await client.call_tool("echo", {"client": n}))
            assert json.loads(echoed)["params"]["arguments"] == {"client": n}
            done = json.loads(
                text_of(
                    await client.call_tool(
                        "progress",
                        {"tag": f"client-{n}", "steps": 4},
                        progress_callback=on_progress,
                    )
                )
            )
            assert done["tag"] == f"client-{n}"
            assert progress == [f"client-{n}"] * 4  # nobody else's progress
            pids.add(int(text_of(await client.call_tool("whoami", {}))))
        sent[n] = ids

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for n in range(20):
                group.start_soon(one, n)

    with running_proxy(tmp_path, "--pool-size", "3", "--request-timeout", "30") as proxy:
        anyio.run(main)
        assert len(pids) <= 3
        assert len({tuple(ids) for ids in sent.values()}) == 1  # every client used the same ids
        assert len(sent) == 20


def test_pool_never_exceeds_its_size(tmp_path: Path) -> None:
    most = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal most
        while not stop.is_set():
            most = max(most, len(proxy.children()))
            stop.wait(0.02)

    async def burst(pids: list[int]) -> None:
        async def one() -> None:
            async with mcp_client(proxy.url, mode=MODERN) as client:
                await client.call_tool("sleep", {"seconds": 1})
                pids.append(int(text_of(await client.call_tool("whoami", {}))))

        async with anyio.create_task_group() as group:
            for _ in range(12):
                group.start_soon(one)

    with running_proxy(tmp_path, "--pool-size", "2", "--request-timeout", "30") as proxy:
        counter = threading.Thread(target=count, daemon=True)
        counter.start()
        first: list[int] = []
        anyio.run(burst, first)
        wait_until(lambda: health(proxy)["pool"]["children"] == 2, what="the pool grew to 2")
        second: list[int] = []
        anyio.run(burst, second)
        stop.set()
        counter.join(5)
        assert len(set(second)) == 2  # both children serve
        assert len(set(first) | set(second)) == 2
        assert most <= 2
        assert health(proxy)["sessions"] == 0


def test_killed_pool_child_fails_its_request_and_is_replaced(tmp_path: Path) -> None:
    with running_proxy(tmp_path, "--pool-size", "1", "--request-timeout", "30") as proxy:

        async def main() -> tuple[int, str, int]:
            async with mcp_client(proxy.url, mode=MODERN) as client:
                pid = int(text_of(await client.call_tool("whoami", {})))
                failure = ""

                async def slow() -> None:
                    nonlocal failure
                    try:
                        await client.call_tool("sleep", {"seconds": 60})
                    except MCPError as exc:
                        failure = exc.message

                async with anyio.create_task_group() as group:
                    group.start_soon(slow)
                    busy = lambda: health(proxy)["pool"]["in_flight"] == 1  # noqa: E731
                    await anyio.to_thread.run_sync(wait_until, busy)
                    psutil.Process(pid).kill()
                replacement = int(text_of(await client.call_tool("whoami", {})))
                return pid, failure, replacement

        pid, failure, replacement = anyio.run(main)
        assert "killed by SIGKILL" in failure
        assert replacement != pid
        assert gone(pid)
        assert [p.pid for p in proxy.children()] == [replacement]
        assert "it will be replaced" in proxy.log()


def test_crashing_pool_child_names_its_exit(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--pool-size", "1") as proxy:
        pid = int(answer_text(post(http, proxy, tool_call("whoami"))))
        (answer,) = rpc_body(post(http, proxy, tool_call("crash", 8)))
        assert answer["id"] == 8
        assert "exited with code 3" in answer["error"]["message"]  # type: ignore[index]
        assert int(answer_text(post(http, proxy, tool_call("whoami", 9)))) != pid
        assert gone(pid)


def test_pool_child_retires_after_max_requests(tmp_path: Path, http: httpx2.Client) -> None:
    options = ("--pool-size", "1", "--pool-max-requests", "3")
    with running_proxy(tmp_path, *options) as proxy:
        pids = [int(answer_text(post(http, proxy, tool_call("whoami", n)))) for n in range(7)]
        assert pids[0] == pids[1] == pids[2]
        assert pids[3] == pids[4] == pids[5] != pids[0]
        assert pids[6] not in pids[:6]
        wait_until(lambda: gone(pids[0]) and gone(pids[3]), what="retired children ended")
        assert [p.pid for p in proxy.children()] == [pids[6]]
        assert "retired after 3 requests" in proxy.log()


def test_pool_child_retires_at_its_age(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--pool-size", "1", "--pool-max-age", "1") as proxy:
        first = int(answer_text(post(http, proxy, tool_call("whoami"))))

        def replaced() -> bool:
            return int(answer_text(post(http, proxy, tool_call("whoami")))) != first

        wait_until(replaced, what="a younger child")
        assert gone(first)
        assert "retired at 1s of age" in proxy.log()


def test_unused_pool_child_ends(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--pool-idle-timeout", "1") as proxy:
        pid = int(answer_text(post(http, proxy, tool_call("whoami"))))
        wait_until(lambda: gone(pid), what="the unused child ended")
        assert proxy.children() == [] and health(proxy)["pool"]["children"] == 0
        assert int(answer_text(post(http, proxy, tool_call("whoami")))) != pid  # started anew


def test_sessions_and_pool_children_are_disjoint(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--pool-size", "2") as proxy:

        async def main() -> tuple[list[int], list[int]]:
            async with (
                mcp_client(proxy.url) as s1,
                mcp_client(proxy.url) as s2,
                mcp_client(proxy.url, mode=MODERN) as m1,
                mcp_client(proxy.url, mode=MODERN) as m2,
            ):
                sessions = [int(text_of(await s.call_tool("whoami", {}))) for s in (s1, s2)]
                pool = [int(text_of(await m.call_tool("whoami", {}))) for m in (m1, m2, m1, m2)]
                # The handshake-era children stay each session's own.
                assert [int(text_of(await s.call_tool("whoami", {}))) for s in (s1, s2)] == sessions
                return sessions, pool

        sessions, pool = anyio.run(main)
        assert len(set(sessions)) == 2
        assert not set(sessions) & set(pool)
        assert len(set(pool)) <= 2
        # The sessions ended (DELETE): their children went, the pool's stayed.
        wait_until(lambda: all(gone(p) for p in sessions), what="session children ended")
        left = {p.pid for p in proxy.children()}
        assert set(pool) <= left and len(left) <= 2
        assert int(answer_text(post(http, proxy, tool_call("whoami")))) in pool


def test_sigterm_leaves_no_process_behind(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--pool-size", "2") as proxy:
        session_id = initialize(http, proxy.url)
        session_call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "whoami"},
        }
        session_pid = int(
            answer_text(
                http.post(
                    proxy.url,
                    json=session_call,
                    headers={**ACCEPT_BOTH, "mcp-session-id": session_id},
                )
            )
        )
        pool_pid = int(answer_text(post(http, proxy, tool_call("whoami"))))
        grandchild = int(answer_text(post(http, proxy, tool_call("grandchild", 3))))
        everything = {p.pid for p in proxy.children()}
        assert {session_pid, pool_pid, grandchild} <= everything
        os.kill(proxy.pid, signal.SIGTERM)
        assert proxy.process.proc is not None
        assert proxy.process.proc.wait(timeout=30) in (0, -signal.SIGTERM)
        for pid in everything:
            wait_until(lambda pid=pid: gone(pid), what=f"process {pid} ended")  # type: ignore[misc]


def test_disconnected_client_gets_its_request_cancelled(
    tmp_path: Path, http: httpx2.Client
) -> None:
    with running_proxy(tmp_path, "--pool-size", "1", "--request-timeout", "60") as proxy:

        async def main() -> None:
            async with mcp_client(proxy.url, mode=MODERN) as client:
                with anyio.move_on_after(1):
                    await client.call_tool("sleep", {"seconds": 30})

        anyio.run(main)

        def cancelled() -> list[object]:
            return list(json.loads(answer_text(post(http, proxy, tool_call("cancelled", "c")))))

        wait_until(lambda: len(cancelled()) == 1, what="the child heard of the cancellation")
        (cancelled_id,) = cancelled()
        sleeps = [e for e in journal(http, proxy) if e["name"] == "sleep"]
        assert [e["id"] for e in sleeps] == [cancelled_id]  # the proxy's id for that very request
        assert health(proxy)["pool"]["in_flight"] == 0


def test_slow_pool_request_times_out_and_is_cancelled(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--pool-size", "1", "--request-timeout", "2") as proxy:
        (answer,) = rpc_body(post(http, proxy, tool_call("sleep", 8, seconds=30)))
        assert answer["id"] == 8
        assert "timed out after 2s" in answer["error"]["message"]  # type: ignore[index]
        cancelled = json.loads(answer_text(post(http, proxy, tool_call("cancelled", 9))))
        assert len(cancelled) == 1


def test_server_to_client_requests_are_answered_for_the_child(
    one_child: Proxy, http: httpx2.Client
) -> None:
    """A client that declared none of sampling, elicitation or roots is never asked for them:
    the child gets a refusal naming what is missing, or an empty roots list."""

    def ask(request_id: int, method: str) -> dict[str, Any]:
        (answer,) = json.loads(
            answer_text(post(http, one_child, tool_call("ask", request_id, method=method)))
        )
        return dict(answer)

    for method in ("sampling/createMessage", "elicitation/create"):
        refused = ask(1, method)
        assert refused["error"]["code"] == -32601
        message = refused["error"]["message"]
        assert method in message and "did not declare" in message and "2026-07-28" in message
    assert ask(2, "roots/list")["result"] == {"roots": []}
    assert ask(3, "ping")["result"] == {}


def test_health_reports_the_pool_and_spawns_nothing(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--pool-size", "3") as proxy:
        for _ in range(3):
            assert health(proxy)["pool"] == {
                "enabled": True,
                "size": 3,
                "children": 0,
                "starting": 0,
                "busy": 0,
                "in_flight": 0,
            }
        assert proxy.children() == []
        post(http, proxy, tool_call("whoami"))
        assert health(proxy)["pool"]["children"] == 1
        assert len(proxy.children()) == 1
    with running_proxy(tmp_path, "--pool-size", "3", "--pool-warm", "2") as warm:
        wait_until(lambda: health(warm)["pool"]["children"] == 2, what="two warm children")
        assert len(warm.children()) == 2


def test_pool_off_refuses_modern_calls_and_auto_clients_fall_back(
    tmp_path: Path, http: httpx2.Client
) -> None:
    with running_proxy(tmp_path, env={"MCP_PROXY_MODERN_PROTOCOL_VERSIONS": ""}) as proxy:
        response = post(http, proxy, tool_call("whoami"))
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == -32022 and MODERN not in error["data"]["supported"]
        assert "MCP_PROXY_MODERN_PROTOCOL_VERSIONS" in error["message"]
        assert health(proxy)["pool"]["enabled"] is False
        assert proxy.children() == []

        async def main() -> tuple[str, str]:
            async with mcp_client(proxy.url, mode="auto") as client:
                return client.protocol_version, text_of(await client.call_tool("whoami", {}))

        version, pid = anyio.run(main)
        assert version == "2025-11-25"  # discover refused: the handshake, with a session
        assert pid.isdigit()


def test_a_command_that_cannot_start_gives_503_naming_the_exit(
    tmp_path: Path, http: httpx2.Client
) -> None:
    broken = [PEER[0], "-c", "import sys; sys.exit(5)"]
    with running_proxy(tmp_path, "--pool-size", "2", command=broken) as proxy:
        for _ in range(2):  # the second comes during the backoff and says so too
            response = post(http, proxy, tool_call("whoami"))
            assert response.status_code == 503
            assert "exited with code 5" in response.json()["error"]["message"]
        assert proxy.children() == []
        assert health(proxy)["status"] == "ok"


# -- real third-party servers --------------------------------------------------------


def test_mcp_server_time_per_request(tmp_path: Path) -> None:
    warm_up([*TIME_COMMAND[:-2], "--help"])
    with running_proxy(tmp_path, command=TIME_COMMAND) as proxy:

        async def main() -> tuple[str, Any, list[str], str]:
            async with mcp_client(proxy.url, mode="auto") as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                result = await client.call_tool(
                    "convert_time",
                    {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
                )
                assert not result.is_error, text_of(result)
                return client.protocol_version, client.server_info, tools, text_of(result)

        version, info, tools, converted = anyio.run(main)
        assert version == MODERN
        assert info is not None and info.name == "mcp-time"
        assert {"get_current_time", "convert_time"} <= set(tools)
        assert "Asia/Tokyo" in converted and "21:00" in converted
        assert health(proxy)["sessions"] == 0
        assert len(health(proxy)["pool"]) and health(proxy)["pool"]["children"] == 1


STARTUP_ROOTS = "asked for roots/list; answered with no roots"


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Two warm children, each past the roots/list server-everything sends after initialize
    (nothing in flight then: the proxy answers it with no roots, and the server keeps that)."""
    warm_up(EVERYTHING_COMMAND)
    with running_proxy(
        tmp_path_factory.mktemp("everything-modern"),
        *("--pool-size", "2", "--pool-warm", "2", "--request-timeout", "60"),
        command=EVERYTHING_COMMAND,
    ) as proxy:
        wait_until(
            lambda: proxy.log().count(STARTUP_ROOTS) == 2,
            timeout=120,
            what="both warm children asked for their roots",
        )
        yield proxy


def test_everything_tools_resources_prompts_per_request(everything: Proxy) -> None:
    async def main() -> dict[str, Any]:
        async with mcp_client(everything.url, mode="auto") as client:
            echo = await client.call_tool("echo", {"message": "per request"})
            total = await client.call_tool("get-sum", {"a": 2, "b": 40})
            resources = (await client.list_resources()).resources
            read = await client.read_resource(resources[0].uri)
            prompts = [p.name for p in (await client.list_prompts()).prompts]
            prompt = await client.get_prompt("args-prompt", {"city": "Lisbon", "state": "PT"})
            return {
                "version": client.protocol_version,
                "capabilities": client.server_capabilities,
                "echo": text_of(echo),
                "sum": text_of(total),
                "read": read.contents[0],
                "uri": str(resources[0].uri),
                "prompts": prompts,
                "prompt": prompt.messages[0].content,
            }

    seen = anyio.run(main)
    assert seen["version"] == MODERN
    assert seen["capabilities"].tools is not None and seen["capabilities"].prompts is not None
    assert "per request" in seen["echo"]
    assert "42" in seen["sum"]
    assert str(seen["read"].uri) == seen["uri"]
    assert {"simple-prompt", "args-prompt"} <= set(seen["prompts"])
    assert "Lisbon" in seen["prompt"].text
    assert health(everything)["sessions"] == 0


def test_everything_progress_per_request(everything: Proxy) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def main() -> str:
        async with mcp_client(everything.url, mode=MODERN) as client:
            result = await client.call_tool(
                "trigger-long-running-operation",
                {"duration": 1, "steps": 3},
                progress_callback=on_progress,
            )
            return text_of(result)

    assert "completed" in anyio.run(main)
    assert progress == [1.0, 2.0, 3.0]


def test_everything_samples_and_elicits_per_request_through_rounds(everything: Proxy) -> None:
    """The proxy declares sampling, elicitation and roots to pool children, so the server
    offers the tools that ask back; the client answers through its callbacks, in rounds."""
    asked: list[str] = []

    sampling = sampling_reply("sampled by the test client", asked, "sampling")

    async def elicitation(_: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append("elicitation")
        return types.ElicitResult(action="accept", content={"name": "Ada Proxy"})

    async def main() -> dict[str, Any]:
        async with mcp_client(
            everything.url,
            mode=MODERN,
            sampling_callback=sampling,
            elicitation_callback=elicitation,
            list_roots_callback=_never,
        ) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            with anyio.fail_after(60):
                sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hi"})
                elicited = await client.call_tool("trigger-elicitation-request", {})
                roots = await client.call_tool("get-roots-list", {})
            return {
                "version": client.protocol_version,
                "tools": tools,
                "sampled": sampled,
                "elicited": elicited,
                "roots": text_of(roots),
            }

    seen = anyio.run(main)
    assert seen["version"] == MODERN
    assert {"trigger-sampling-request", "trigger-elicitation-request", "get-roots-list"} <= seen[
        "tools"
    ]
    assert not seen["sampled"].is_error and not seen["elicited"].is_error
    assert "sampled by the test client" in text_of(seen["sampled"])
    assert "Ada Proxy" in text_of(seen["elicited"])
    # The roots the server keeps are the proxy's empty list from start-up, never a client's.
    assert "no roots are currently configured" in seen["roots"]
    assert asked == ["sampling", "elicitation"]
    assert health(everything)["sessions"] == 0


def test_everything_refuses_cleanly_for_a_client_that_cannot_answer(everything: Proxy) -> None:
    async def main() -> Any:
        async with mcp_client(everything.url, mode=MODERN) as client:  # no callbacks at all
            with anyio.fail_after(30):
                return await client.call_tool("trigger-sampling-request", {"prompt": "x"})

    refused = anyio.run(main)
    assert refused.is_error
    assert "did not declare sampling" in text_of(refused)
    assert health(everything)["pool"]["in_flight"] == 0


async def _never(*_: Any) -> Any:
    raise AssertionError("a server request reached a client that should never get one")
