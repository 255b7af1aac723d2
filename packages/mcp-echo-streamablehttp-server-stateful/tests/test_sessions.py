"""Sessions: isolation, the two session tools, and the StreamableHTTP session rules."""

from __future__ import annotations

import json
import re
import time

import anyio
import anyio.lowlevel
import httpx2
import pytest

from testsupport.mcp_client import initialize_body, mcp_client, text_of

HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INITIALIZE = initialize_body("raw-test")
ECHO = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "echo", "arguments": {"message": "hi"}},
}


def open_session(url: str) -> str:
    response = httpx2.post(url, json=INITIALIZE, headers=HEADERS)
    assert response.status_code == 200, response.text
    session_id = response.headers["mcp-session-id"]
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    ack = httpx2.post(url, json=initialized, headers={**HEADERS, "mcp-session-id": session_id})
    assert ack.status_code == 202
    return session_id


def post(url: str, body: object, session_id: str | None) -> httpx2.Response:
    headers = dict(HEADERS)
    if session_id is not None:
        headers["mcp-session-id"] = session_id
    return httpx2.post(url, content=json.dumps(body), headers=headers)


def answer_of(response: httpx2.Response) -> dict[str, object]:
    """The JSON-RPC answer, whether it came as JSON or as an SSE event."""
    if response.headers["content-type"].startswith("application/json"):
        message: dict[str, object] = response.json()
        return message
    for line in response.text.splitlines():
        if line.startswith("data:") and line[5:].strip():
            event: dict[str, object] = json.loads(line[5:])
            if "result" in event or "error" in event:
                return event
    raise AssertionError(f"no JSON-RPC answer in {response.text!r}")


@pytest.mark.anyio
async def test_lists_nine_plus_two_tools(stateful_url: str) -> None:
    async with mcp_client(stateful_url) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert {"replayLastEcho", "sessionInfo", "echo", "whoIStheGOAT", "bearerDecode"} <= names
    assert len(names) == 11


@pytest.mark.anyio
async def test_two_sessions_never_see_each_others_state(stateful_url: str) -> None:
    async with mcp_client(stateful_url) as alice, mcp_client(stateful_url) as bob:
        await alice.call_tool("echo", {"message": "from alice"})
        await bob.call_tool("echo", {"message": "from bob 1"})
        await bob.call_tool("echo", {"message": "from bob 2"})
        alice_replay = text_of(await alice.call_tool("replayLastEcho", {}))
        bob_replay = text_of(await bob.call_tool("replayLastEcho", {}))
        alice_info = text_of(await alice.call_tool("sessionInfo", {}))
        bob_info = text_of(await bob.call_tool("sessionInfo", {}))

    assert alice_replay.startswith("from alice")
    assert "bob" not in alice_replay
    assert bob_replay.startswith("from bob 2")
    assert "1 in the queue" in alice_replay
    assert "2 in the queue" in bob_replay
    alice_id = re.search(r"session id\s+(\S+)", alice_info)
    bob_id = re.search(r"session id\s+(\S+)", bob_info)
    assert alice_id and bob_id
    assert alice_id.group(1) != bob_id.group(1)
    assert "queue length   1 of 100" in alice_info
    assert "queue length   2 of 100" in bob_info


@pytest.mark.anyio
async def test_concurrent_sessions_keep_their_own_echoes(stateful_url: str) -> None:
    replays: dict[int, str] = {}

    async def session(n: int) -> None:
        async with mcp_client(stateful_url) as client:
            for i in range(3):
                await client.call_tool("echo", {"message": f"s{n}-m{i}"})
                await anyio.lowlevel.checkpoint()
            replays[n] = text_of(await client.call_tool("replayLastEcho", {}))

    async with anyio.create_task_group() as tg:
        for n in range(12):
            tg.start_soon(session, n)
    for n, replay in replays.items():
        assert replay.startswith(f"s{n}-m2\n"), replay
    assert len(replays) == 12


@pytest.mark.anyio
async def test_replay_without_an_echo_says_so(stateful_url: str) -> None:
    async with mcp_client(stateful_url) as client:
        out = text_of(await client.call_tool("replayLastEcho", {}))
    assert "No echo in this session yet" in out


def test_session_info_counts_messages(stateful_url: str) -> None:
    """Raw HTTP, so the count is exactly the messages this test sent."""
    session_id = open_session(stateful_url)  # initialize + notifications/initialized
    info = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "sessionInfo"}}
    first = answer_of(post(stateful_url, info, session_id))
    post(stateful_url, ECHO, session_id)
    second = answer_of(post(stateful_url, info, session_id))

    def count(message: dict[str, object]) -> int:
        text = message["result"]["content"][0]["text"]  # type: ignore[index]
        found = re.search(r"messages\s+(\d+)", text)
        assert found, text
        return int(found.group(1))

    assert count(first) == 3
    assert count(second) == 5
    assert session_id in second["result"]["content"][0]["text"]  # type: ignore[index]


@pytest.mark.anyio
async def test_queue_is_capped_at_100_oldest_dropped(stateful_url: str) -> None:
    async with mcp_client(stateful_url) as client:
        for i in range(105):
            await client.call_tool("echo", {"message": f"m{i}"})
        info = text_of(await client.call_tool("sessionInfo", {}))
        replay = text_of(await client.call_tool("replayLastEcho", {}))
    assert "queue length   100 of 100" in info
    assert replay.startswith("m104\n")


@pytest.mark.anyio
async def test_modern_era_requests_are_sessionless(stateful_url: str) -> None:
    async with mcp_client(stateful_url, mode="2026-07-28") as client:
        assert text_of(await client.call_tool("echo", {"message": "m"})) == "m"
        out = text_of(await client.call_tool("replayLastEcho", {}))
    assert "belongs to no session" in out


def test_session_ids_are_random_and_unguessable(stateful_url: str) -> None:
    ids = {open_session(stateful_url) for _ in range(5)}
    assert len(ids) == 5
    for session_id in ids:
        assert re.fullmatch(r"[0-9a-f]{32}", session_id)  # 128 bits from uuid4 (os.urandom)


def test_request_without_session_id_gets_400(stateful_url: str) -> None:
    response = post(stateful_url, ECHO, None)
    assert response.status_code == 400
    assert "session" in response.json()["error"]["message"].lower()


def test_unknown_session_id_gets_404(stateful_url: str) -> None:
    response = post(stateful_url, ECHO, "0" * 32)
    assert response.status_code == 404


def test_deleted_session_gets_404(stateful_url: str) -> None:
    session_id = open_session(stateful_url)
    assert post(stateful_url, ECHO, session_id).status_code == 200
    deleted = httpx2.delete(stateful_url, headers={"mcp-session-id": session_id})
    assert deleted.status_code in (200, 204)
    assert post(stateful_url, ECHO, session_id).status_code == 404


def test_expired_session_gets_404_and_its_memory_is_dropped(short_lived_url: str) -> None:
    session_id = open_session(short_lived_url)
    echo = answer_of(post(short_lived_url, ECHO, session_id))
    assert "result" in echo
    before = httpx2.get(short_lived_url.removesuffix("/mcp") + "/health").json()
    assert before["sessions"] == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        health = httpx2.get(short_lived_url.removesuffix("/mcp") + "/health").json()
        if health["sessions"] == 0:
            break
    assert post(short_lived_url, ECHO, session_id).status_code == 404
    assert httpx2.get(short_lived_url.removesuffix("/mcp") + "/health").json()["sessions"] == 0


def test_session_cap_gives_a_clear_error(short_lived_url: str) -> None:
    ids = [open_session(short_lived_url) for _ in range(3)]
    refused = httpx2.post(short_lived_url, json=INITIALIZE, headers=HEADERS)
    assert refused.status_code == 503
    assert "Too many open sessions" in refused.json()["error"]["message"]
    httpx2.delete(short_lived_url, headers={"mcp-session-id": ids[0]})
    assert httpx2.post(short_lived_url, json=INITIALIZE, headers=HEADERS).status_code == 200


@pytest.mark.parametrize(
    ("body", "extra", "status"),
    [
        (b'{"jsonrpc": "2.0", "id": 1, "method": ', {}, 400),
        (b"[1, 2]", {}, 400),
        (b"x" * 1_100_000, {}, 413),
        (json.dumps(ECHO).encode(), {"accept": "text/html"}, 406),
        (json.dumps(ECHO).encode(), {"origin": "http://evil.example"}, 403),
        (json.dumps(ECHO).encode(), {"mcp-protocol-version": "2000-01-01"}, 400),
    ],
    ids=["truncated-json", "array", "oversized", "wrong-accept", "foreign-origin", "bad-version"],
)
def test_bad_input_in_a_session_gets_a_clear_error_and_the_session_survives(
    stateful_url: str, body: bytes, extra: dict[str, str], status: int
) -> None:
    session_id = open_session(stateful_url)
    headers = {**HEADERS, "mcp-session-id": session_id, **extra}
    response = httpx2.post(stateful_url, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert "result" in answer_of(post(stateful_url, ECHO, session_id))


def test_unknown_tool_in_a_session_is_invalid_params(stateful_url: str) -> None:
    session_id = open_session(stateful_url)
    body = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "nope"}}
    answer = answer_of(post(stateful_url, body, session_id))
    assert answer["error"]["code"] == -32602  # type: ignore[index]
    assert "replayLastEcho" in answer["error"]["message"]  # type: ignore[index]


def test_posts_are_answered_with_json(stateful_url: str) -> None:
    session_id = open_session(stateful_url)
    response = post(stateful_url, ECHO, session_id)
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["result"]["content"][0]["text"] == "hi"
