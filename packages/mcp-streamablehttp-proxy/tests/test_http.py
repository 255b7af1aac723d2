"""StreamableHTTP rules and byte-for-byte transparency, spoken raw over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from proxy_testkit import (
    ACCEPT_BOTH,
    INIT,
    Proxy,
    initialize,
    rpc_body,
    running_proxy,
    wait_until,
)


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=10.0, follow_redirects=False) as client:
        yield client


def call(name: str, request_id: int = 7, **arguments: object) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def error_message(response: httpx2.Response) -> str:
    body = response.json()
    assert body["jsonrpc"] == "2.0" and "error" in body
    return str(body["error"]["message"])


def test_health_spawns_nothing(peer_proxy: Proxy, http: httpx2.Client) -> None:
    before = len(peer_proxy.children())
    for _ in range(5):
        response = http.get(peer_proxy.base + "/health")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
    assert len(peer_proxy.children()) == before


def test_session_id_is_required_after_initialize(peer_proxy: Proxy, http: httpx2.Client) -> None:
    response = http.post(peer_proxy.url, json=call("whoami"), headers=ACCEPT_BOTH)
    assert response.status_code == 400
    assert "Mcp-Session-Id" in error_message(response)


def test_unknown_session_is_404(peer_proxy: Proxy, http: httpx2.Client) -> None:
    headers = {**ACCEPT_BOTH, "mcp-session-id": "no-such-session"}
    response = http.post(peer_proxy.url, json=call("whoami"), headers=headers)
    assert response.status_code == 404
    assert "initialize" in error_message(response)
    for method in ("GET", "DELETE"):
        answer = http.request(
            method, peer_proxy.url, headers={**headers, "accept": "text/event-stream"}
        )
        assert answer.status_code == 404


def test_session_ids_are_random_and_distinct(peer_proxy: Proxy, http: httpx2.Client) -> None:
    ids = {initialize(http, peer_proxy.url) for _ in range(3)}
    assert len(ids) == 3
    assert all(len(i) >= 32 and all(0x21 <= ord(c) <= 0x7E for c in i) for i in ids)
    for session_id in ids:
        http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})


def test_accept_and_content_type_rules(peer_proxy: Proxy, http: httpx2.Client) -> None:
    bad_accept = {"accept": "text/html", "content-type": "application/json"}
    response = http.post(peer_proxy.url, json=INIT, headers=bad_accept)
    assert response.status_code == 406
    assert "Accept" in error_message(response)
    bad_type = {**ACCEPT_BOTH, "content-type": "text/plain"}
    response = http.post(peer_proxy.url, content=json.dumps(INIT), headers=bad_type)
    assert response.status_code == 415
    session_id = initialize(http, peer_proxy.url)
    response = http.get(
        peer_proxy.url, headers={"accept": "application/json", "mcp-session-id": session_id}
    )
    assert response.status_code == 406
    http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})


def test_protocol_version_is_validated(peer_proxy: Proxy, http: httpx2.Client) -> None:
    session_id = initialize(http, peer_proxy.url)
    headers = {**ACCEPT_BOTH, "mcp-session-id": session_id}
    response = http.post(
        peer_proxy.url,
        json=call("whoami"),
        headers={**headers, "mcp-protocol-version": "1999-01-01"},
    )
    assert response.status_code == 400
    assert "1999-01-01" in error_message(response)
    ok = http.post(
        peer_proxy.url,
        json=call("whoami"),
        headers={**headers, "mcp-protocol-version": "2025-06-18"},
    )
    assert ok.status_code == 200
    http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})


def test_foreign_origin_is_refused(peer_proxy: Proxy, http: httpx2.Client) -> None:
    before = len(peer_proxy.children())
    response = http.post(
        peer_proxy.url, json=INIT, headers={**ACCEPT_BOTH, "origin": "http://evil.example"}
    )
    assert response.status_code == 403
    assert "evil.example" in error_message(response)
    assert len(peer_proxy.children()) == before
    own = http.post(peer_proxy.url, json=INIT, headers={**ACCEPT_BOTH, "origin": peer_proxy.base})
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == peer_proxy.base
    http.delete(peer_proxy.url, headers={"mcp-session-id": own.headers["mcp-session-id"]})


def test_oversized_and_malformed_bodies(peer_proxy: Proxy, http: httpx2.Client) -> None:
    session_id = initialize(http, peer_proxy.url)
    headers = {**ACCEPT_BOTH, "mcp-session-id": session_id}
    huge = call("echo", padding="x" * 5_000_000)
    response = http.post(peer_proxy.url, json=huge, headers=headers)
    assert response.status_code == 413
    assert "MCP_PROXY_MAX_MESSAGE_BYTES" in error_message(response)
    response = http.post(peer_proxy.url, content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700
    response = http.post(peer_proxy.url, json={"hello": "world"}, headers=headers)
    assert response.status_code == 400
    # Not JSON-RPC 2.0, or an id MCP forbids: refused at once, never left to time out.
    for wrong in ({"jsonrpc": "1.0"}, {"id": None}, {"id": True}, {"id": [1]}):
        response = http.post(peer_proxy.url, json={**call("whoami"), **wrong}, headers=headers)
        assert response.status_code == 400, wrong
        assert response.json()["error"]["code"] == -32600
    still = http.post(peer_proxy.url, json=call("whoami"), headers=headers)
    assert still.status_code == 200
    http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})


def test_trailing_slash_is_the_same_endpoint(peer_proxy: Proxy, http: httpx2.Client) -> None:
    response = http.post(peer_proxy.url + "/", json=INIT, headers=ACCEPT_BOTH)
    assert response.status_code == 200
    session_id = response.headers["mcp-session-id"]
    headers = {**ACCEPT_BOTH, "mcp-session-id": session_id}
    answer = http.post(peer_proxy.url, json=call("whoami"), headers=headers)
    assert answer.status_code == 200
    assert http.delete(peer_proxy.url + "/", headers=headers).status_code == 200


def test_unknown_fields_and_future_methods_pass_through(
    peer_proxy: Proxy, http: httpx2.Client
) -> None:
    response = http.post(peer_proxy.url, json=INIT, headers=ACCEPT_BOTH)
    (init,) = rpc_body(response)
    assert init["x-peer-extra"] == {"kept": True}
    assert init["result"]["x-future-field"] == "survives"  # type: ignore[index]
    session_id = response.headers["mcp-session-id"]
    headers = {**ACCEPT_BOTH, "mcp-session-id": session_id}

    body = (
        b'{"jsonrpc":"2.0","id":"abc","method":"tools/call","x-client-extra":[1,2],'
        b'"params":{"name":"echo","arguments":{"n":1.50,"s":"caf\\u00e9"},"_meta":{"x":true}}}'
    )
    (echoed,) = rpc_body(http.post(peer_proxy.url, content=body, headers=headers))
    assert echoed["id"] == "abc"
    seen = echoed["result"]["content"][0]["text"]  # type: ignore[index]
    assert seen.encode() == body  # the child got the very bytes the client sent

    future = {"jsonrpc": "2.0", "id": 99, "method": "x-future/method", "params": {"q": [1]}}
    (answer,) = rpc_body(http.post(peer_proxy.url, json=future, headers=headers))
    assert answer["result"] == {"method": "x-future/method", "request": future}
    http.delete(peer_proxy.url, headers=headers)


def test_json_only_client_gets_json(peer_proxy: Proxy, http: httpx2.Client) -> None:
    session_id = initialize(http, peer_proxy.url)
    headers = {
        "accept": "application/json",
        "content-type": "application/json",
        "mcp-session-id": session_id,
    }
    response = http.post(peer_proxy.url, json=call("whoami"), headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["id"] == 7
    http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})


def test_batch_is_answered_on_one_stream(peer_proxy: Proxy, http: httpx2.Client) -> None:
    session_id = initialize(http, peer_proxy.url)
    headers = {**ACCEPT_BOTH, "mcp-session-id": session_id}
    batch = [call("whoami", 1), call("echo", 2), {"jsonrpc": "2.0", "method": "x-note"}]
    answers = rpc_body(http.post(peer_proxy.url, json=batch, headers=headers))
    assert sorted(a["id"] for a in answers) == [1, 2]  # type: ignore[type-var]
    http.delete(peer_proxy.url, headers=headers)


def test_second_get_stream_is_409_and_child_survives(
    peer_proxy: Proxy, http: httpx2.Client
) -> None:
    session_id = initialize(http, peer_proxy.url)
    headers = {**ACCEPT_BOTH, "mcp-session-id": session_id}
    pid = rpc_body(http.post(peer_proxy.url, json=call("whoami"), headers=headers))[0]
    get_headers = {"accept": "text/event-stream", "mcp-session-id": session_id}
    received: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        with (
            httpx2.Client(timeout=30.0) as other,
            other.stream("GET", peer_proxy.url, headers=get_headers) as stream,
        ):
            assert stream.status_code == 200
            opened.set()
            for line in stream.iter_lines():
                received.append(line)
                if "x-future/notification" in line:
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(10)
    second = http.get(peer_proxy.url, headers=get_headers)
    assert second.status_code == 409
    assert "stream" in error_message(second)
    # Server-initiated notifications reach the one GET stream; the child lives on.
    notified = rpc_body(http.post(peer_proxy.url, json=call("notify", 8), headers=headers))
    assert notified[-1]["id"] == 8
    listener.join(10)
    assert any("hello from the peer" in line for line in received)
    # A notification method no revision defines yet arrives untouched, too.
    assert (
        'data: {"jsonrpc": "2.0", "method": "x-future/notification", "params": {"n": 1}}'
        in received
    )
    again = rpc_body(http.post(peer_proxy.url, json=call("whoami", 9), headers=headers))
    assert again[0]["result"] == pid["result"]
    http.delete(peer_proxy.url, headers=headers)


def test_get_stream_slot_frees_when_the_client_leaves(
    peer_proxy: Proxy, http: httpx2.Client
) -> None:
    session_id = initialize(http, peer_proxy.url)
    get_headers = {"accept": "text/event-stream", "mcp-session-id": session_id}
    with http.stream("GET", peer_proxy.url, headers=get_headers) as stream:
        assert stream.status_code == 200

    def reopens() -> bool:
        with http.stream("GET", peer_proxy.url, headers=get_headers) as again:
            return again.status_code == 200

    wait_until(reopens, what="a new GET stream after the first one closed")
    http.delete(peer_proxy.url, headers={"mcp-session-id": session_id})


def test_silent_request_gets_keepalives(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, env={"MCP_PROXY_KEEPALIVE_INTERVAL": "0.3"}) as proxy:
        session_id = initialize(http, proxy.url)
        headers = {**ACCEPT_BOTH, "mcp-session-id": session_id}
        response = http.post(proxy.url, json=call("sleep", 8, seconds=1.5), headers=headers)
        assert response.headers["content-type"].startswith("text/event-stream")
        assert ": keep-alive" in response.text
        assert rpc_body(response)[-1]["result"]["content"][0]["text"] == "slept 1.5"  # type: ignore[index]
        # A quick answer still comes as plain JSON.
        quick = http.post(proxy.url, json=call("whoami", 9), headers=headers)
        assert quick.headers["content-type"] == "application/json"
