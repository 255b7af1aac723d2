"""A pool child asks its 2026-07-28 client for sampling, elicitation, roots: input_required rounds.

The official SDK client (`mode="2026-07-28"`, with callbacks) drives the
rounds itself; raw HTTP shows the tokens, and the stdio peer's own journal
and answer log show what reached the child. No mocks: real proxy processes,
a real peer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CLIENT_CAPABILITIES_META_KEY
from proxy_testkit import Proxy, rpc_body, running_proxy, wait_until
from test_modern_era import (
    answer_text,
    health,
    journal,
    modern_headers,
    post,
    tool_call,
)

from testsupport.mcp_client import mcp_client, text_of

MODERN = "2026-07-28"
CAPABLE = {"sampling": {}, "elicitation": {"form": {}}, "roots": {}}


def sampling_params(text: str) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
        "maxTokens": 16,
    }


ELICITATION = {
    "message": "Your name?",
    "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
}


def with_capabilities(body: dict[str, Any], capabilities: dict[str, Any]) -> dict[str, Any]:
    params = dict(body["params"])
    params["_meta"] = {**params["_meta"], CLIENT_CAPABILITIES_META_KEY: capabilities}
    return {**body, "params": params}


def retry_of(body: dict[str, Any], request_id: object, **params: object) -> dict[str, Any]:
    """The same request again, under a new id, carrying a round's answers."""
    return {**body, "id": request_id, "params": {**body["params"], **params}}


def asking(request_id: object = 1, **arguments: object) -> dict[str, Any]:
    return with_capabilities(tool_call("ask", request_id, **arguments), CAPABLE)


def round_of(response: httpx2.Response) -> tuple[str, dict[str, Any], str]:
    """(input key, the input request, requestState) of an input_required answer."""
    assert response.status_code == 200, response.text
    (message,) = [m for m in rpc_body(response) if "result" in m]
    result = message["result"]
    assert isinstance(result, dict) and result["resultType"] == "input_required", result
    ((key, request),) = result["inputRequests"].items()
    return key, request, result["requestState"]


def answers_of(response: httpx2.Response) -> list[dict[str, Any]]:
    """What the peer's `ask` tool got back from its client, as it returns it."""
    return list(json.loads(answer_text(response)))


def peer_answers(http: httpx2.Client, proxy: Proxy) -> list[dict[str, Any]]:
    """Every answer the (single) pool child got to a request of its own, so far."""
    return list(json.loads(answer_text(post(http, proxy, tool_call("answers", "answers")))))


def sampled(text: str) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=text), model="test-model"
    )


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def one_child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with running_proxy(
        tmp_path_factory.mktemp("asking"),
        *("--pool-size", "1", "--pool-idle-timeout", "0", "--pool-max-age", "0"),
        *("--request-timeout", "20"),
    ) as proxy:
        yield proxy


def test_pool_children_are_told_what_the_proxy_relays(tmp_path: Path, http: httpx2.Client) -> None:
    with running_proxy(tmp_path, "--pool-size", "1") as proxy:
        told = json.loads(answer_text(post(http, proxy, tool_call("client"))))
        assert told["capabilities"] == {
            "sampling": {},
            "elicitation": {"form": {}, "url": {}},
            "roots": {},
        }
    with running_proxy(tmp_path, "--pool-size", "1", "--pool-client-capabilities", "") as proxy:
        assert json.loads(answer_text(post(http, proxy, tool_call("client"))))["capabilities"] == {}
        (refused,) = answers_of(post(http, proxy, asking(params=sampling_params("x"))))
        assert refused["error"]["code"] == -32601
        assert "MCP_PROXY_POOL_CLIENT_CAPABILITIES" in refused["error"]["message"]


def test_sdk_client_answers_sampling_through_a_round(one_child: Proxy, http: httpx2.Client) -> None:
    asked: list[types.CreateMessageRequestParams] = []
    posts: list[dict[str, Any]] = []

    async def sampling(_: Any, params: types.CreateMessageRequestParams) -> Any:
        asked.append(params)
        return sampled("sampled by the test client")

    async def record(request: httpx2.Request) -> None:
        if request.method == "POST":
            posts.append(json.loads(request.content))

    async def main() -> str:
        async with (
            httpx2.AsyncClient(timeout=30, event_hooks={"request": [record]}) as client_http,
            Client(
                streamable_http_client(one_child.url, http_client=client_http),
                mode=MODERN,
                sampling_callback=sampling,
            ) as client,
        ):
            arguments = {"params": sampling_params("What is 6 x 7?")}
            return text_of(await client.call_tool("ask", arguments))

    before = journal(http, one_child)
    (answer,) = json.loads(anyio.run(main))
    assert answer["result"]["content"] == {"type": "text", "text": "sampled by the test client"}
    assert answer["result"]["model"] == "test-model"
    assert [p.messages[0].content.text for p in asked] == ["What is 6 x 7?"]  # type: ignore[union-attr]
    calls = [p for p in posts if p.get("method") == "tools/call"]
    assert len(calls) == 2  # the call, and its retry carrying the answer
    assert "requestState" not in calls[0]["params"]
    assert calls[1]["params"]["requestState"] and calls[1]["id"] != calls[0]["id"]
    # The child saw the call once (the retry is no new call) and nothing of the round's keys.
    seen = journal(http, one_child)[len(before) :]
    assert [e["name"] for e in seen if e["method"] == "tools/call"] == ["ask", "journal"]


def test_rounds_carry_elicitation_and_roots_with_progress_between(
    one_child: Proxy,
) -> None:
    progress: list[float] = []
    order: list[str] = []
    posts: list[dict[str, Any]] = []

    async def sampling(_: Any, params: types.CreateMessageRequestParams) -> Any:
        order.append("sampling")
        return sampled("first round")

    async def elicitation(_: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        order.append(f"elicitation: {params.message}")
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def roots(_: Any) -> types.ListRootsResult:
        order.append("roots")
        return types.ListRootsResult(roots=[types.Root(uri="file:///srv/work", name="work")])  # type: ignore[arg-type]

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def record(request: httpx2.Request) -> None:
        if request.method == "POST":
            posts.append(json.loads(request.content))

    async def main() -> str:
        async with (
            httpx2.AsyncClient(timeout=30, event_hooks={"request": [record]}) as client_http,
            Client(
                streamable_http_client(one_child.url, http_client=client_http),
                mode=MODERN,
                sampling_callback=sampling,
                elicitation_callback=elicitation,
                list_roots_callback=roots,
            ) as client,
        ):
            asks = [
                [{"method": "sampling/createMessage", "params": sampling_params("one")}],
                [
                    {"method": "elicitation/create", "params": ELICITATION},
                    {"method": "roots/list"},
                ],
            ]
            result = await client.call_tool(
                "ask", {"asks": asks, "progress": True}, progress_callback=on_progress
            )
            return text_of(result)

    first, elicited, listed = json.loads(anyio.run(main))
    assert first["result"]["content"]["text"] == "first round"
    assert elicited["result"] == {"action": "accept", "content": {"name": "Ada"}}
    assert [(r["uri"], r["name"]) for r in listed["result"]["roots"]] == [
        ("file:///srv/work", "work")
    ]
    assert order[0] == "sampling"
    assert sorted(order[1:]) == ["elicitation: Your name?", "roots"]  # asked together
    assert len([p for p in posts if p.get("method") == "tools/call"]) == 3  # two rounds
    assert progress == [1.0, 2.0, 3.0]  # before each round and after the last, on each POST


def test_states_that_are_unknown_used_foreign_or_for_another_request_are_400(
    one_child: Proxy, http: httpx2.Client, tmp_path: Path
) -> None:
    body = asking(7, params=sampling_params("stolen?"))
    before = journal(http, one_child)
    key, request, state = round_of(post(http, one_child, body))
    assert request["method"] == "sampling/createMessage"
    assert request["params"]["messages"][0]["content"]["text"] == "stolen?"
    right = sampled("the right answer").model_dump(mode="json", by_alias=True, exclude_none=True)
    answer = {key: right}

    def refused(response: httpx2.Response, code: int = -32602) -> str:
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == code, error
        return str(error["message"])

    guessed = retry_of(body, 8, inputResponses=answer, requestState="v1.guessed")
    assert "no pending round" in refused(post(http, one_child, guessed))
    # Another tool, other arguments, another method: the token is not theirs.
    other_tool = retry_of(with_capabilities(tool_call("echo", 8), CAPABLE), 8)
    other_tool["params"].update(inputResponses=answer, requestState=state)
    assert "different request" in refused(post(http, one_child, other_tool))
    other_arguments = retry_of(asking(8, params=sampling_params("other")), 8)
    other_arguments["params"].update(inputResponses=answer, requestState=state)
    assert "different request" in refused(post(http, one_child, other_arguments))
    prompt = {
        **with_capabilities(tool_call("ask", 8), CAPABLE),
        "method": "prompts/get",
    }
    prompt["params"] = {
        "name": "ask",
        "_meta": prompt["params"]["_meta"],
        "inputResponses": answer,
        "requestState": state,
    }
    assert "different request" in refused(post(http, one_child, prompt))
    # On every round the headers must say what the body does.
    retry = retry_of(body, 9, inputResponses=answer, requestState=state)
    refused(post(http, one_child, retry, modern_headers(retry, mcp_name="whoami")), -32020)
    # Another replica of the proxy never saw the token.
    with running_proxy(tmp_path, "--pool-size", "1") as replica:
        assert "another replica" in refused(post(http, replica, retry))

    finished = post(http, one_child, retry)  # none of that used the token up
    assert finished.status_code == 200
    (done,) = rpc_body(finished)
    assert done["id"] == 9
    (got,) = json.loads(done["result"]["content"][0]["text"])  # type: ignore[index]
    assert got["result"]["content"]["text"] == "the right answer"
    assert "no pending round" in refused(post(http, one_child, retry_of(retry, 10)))  # used
    seen = journal(http, one_child)[len(before) :]
    assert [e["name"] for e in seen if e["method"] == "tools/call"] == ["ask", "journal"]


def test_a_client_that_cannot_answer_gets_the_childs_request_refused(
    one_child: Proxy, http: httpx2.Client
) -> None:
    async def main() -> str:
        async with mcp_client(one_child.url, mode=MODERN) as client:  # no callbacks
            return text_of(await client.call_tool("ask", {"params": sampling_params("x")}))

    (refused,) = json.loads(anyio.run(main))
    assert refused["error"]["code"] == -32601
    assert "did not declare sampling" in refused["error"]["message"]
    # Raw: a form-only client is not sent a URL elicitation; a client without roots has none.
    form_only = with_capabilities(
        tool_call(
            "ask",
            2,
            asks=[
                [
                    {
                        "method": "elicitation/create",
                        "params": {"mode": "url", "message": "Sign in", "url": "https://x.test/"},
                    }
                ]
            ],
        ),
        {"elicitation": {"form": {}}},
    )
    (url,) = answers_of(post(http, one_child, form_only))
    assert "did not declare elicitation.url" in url["error"]["message"]
    no_roots = tool_call("ask", 3, method="roots/list")
    (roots,) = answers_of(post(http, one_child, no_roots))
    assert roots["result"] == {"roots": []}
    # A request that does not fit the client's revision is refused to the child, not sent.
    (odd,) = answers_of(post(http, one_child, asking(4, params={"maxTokens": "lots"})))
    assert odd["error"]["code"] == -32602 and MODERN in odd["error"]["message"]
    pinged = answers_of(post(http, one_child, tool_call("ask", 5, method="ping")))
    assert pinged[0]["result"] == {}


def test_concurrent_clients_on_one_child_get_only_their_own_rounds(tmp_path: Path) -> None:
    with running_proxy(tmp_path, "--pool-size", "1", "--request-timeout", "30") as proxy:

        async def ask_as(
            n: int, reached: anyio.Event | None = None, hold: anyio.Event | None = None
        ) -> dict[str, Any]:
            asked: list[str] = []

            async def sampling(_: Any, params: types.CreateMessageRequestParams) -> Any:
                asked.append(params.messages[0].content.text)  # type: ignore[union-attr]
                if reached is not None and hold is not None:
                    reached.set()  # the round is out: A's request waits on the child
                    await hold.wait()
                return sampled(f"answer for client {n}")

            async with mcp_client(proxy.url, mode=MODERN, sampling_callback=sampling) as client:
                arguments = {"params": sampling_params(f"question from client {n}")}
                (answer,) = json.loads(text_of(await client.call_tool("ask", arguments)))
            assert asked in ([], [f"question from client {n}"])  # only ever its own question
            return dict(answer)

        async def two() -> tuple[dict[str, Any], dict[str, Any]]:
            # A's round waits for its answer while B asks on the same child: two requests in
            # flight there, so B's cannot be attributed and is refused; A's still completes.
            reached, hold = anyio.Event(), anyio.Event()
            first: dict[str, Any] = {}

            async def a() -> None:
                first.update(await ask_as(1, reached, hold))

            async with anyio.create_task_group() as group:
                group.start_soon(a)
                with anyio.fail_after(20):
                    await reached.wait()
                second = await ask_as(2)
                hold.set()
            return first, second

        first, second = anyio.run(two)
        assert first["result"]["content"]["text"] == "answer for client 1"
        assert second["error"]["code"] == -32601
        assert "2 requests are in flight" in second["error"]["message"]

        results: dict[int, dict[str, Any]] = {}

        async def many() -> None:
            async def one(n: int) -> None:
                results[n] = await ask_as(n)

            async with anyio.create_task_group() as group:
                for n in range(10, 20):
                    group.start_soon(one, n)

        anyio.run(many)
        assert sorted(results) == list(range(10, 20))
        for n, answer in results.items():
            if "result" in answer:
                assert answer["result"]["content"]["text"] == f"answer for client {n}"
            else:
                assert answer["error"]["code"] == -32601, answer  # refused, never misdirected
        assert health(proxy)["pool"]["in_flight"] == 0


def test_an_abandoned_round_is_cancelled_on_the_child_after_the_timeout(
    tmp_path: Path, http: httpx2.Client
) -> None:
    with running_proxy(tmp_path, "--pool-size", "1", "--request-timeout", "4") as proxy:
        pid = answer_text(post(http, proxy, tool_call("whoami", "who")))
        body = asking(1, params=sampling_params("anyone?"))
        key, _, state = round_of(post(http, proxy, body))  # and the client never comes back

        def cancelled() -> list[object]:
            return list(json.loads(answer_text(post(http, proxy, tool_call("cancelled", "c")))))

        wait_until(lambda: len(cancelled()) == 1, what="the child heard of the cancellation")
        (cancelled_id,) = cancelled()
        asks = [e for e in journal(http, proxy) if e["name"] == "ask"]
        assert [e["id"] for e in asks] == [cancelled_id]
        (late,) = peer_answers(http, proxy)  # the child's own request got an error, not silence
        assert late["error"]["code"] == -32001 and "did not retry" in late["error"]["message"]
        assert health(proxy)["pool"]["in_flight"] == 0
        late_answer = sampled("too late").model_dump(mode="json", by_alias=True, exclude_none=True)
        retry = retry_of(body, 2, inputResponses={key: late_answer}, requestState=state)
        response = post(http, proxy, retry)
        assert response.status_code == 400 and response.json()["error"]["code"] == -32602
        assert "no pending round" in response.json()["error"]["message"]
        assert answer_text(post(http, proxy, tool_call("whoami", "again"))) == pid  # still serving
        body = asking(3, params=sampling_params("anyone now?"))
        key, _, state = round_of(post(http, proxy, body))
        answer = {key: sampled("here").model_dump(mode="json", by_alias=True, exclude_none=True)}
        retry = retry_of(body, 4, inputResponses=answer, requestState=state)
        (got,) = answers_of(post(http, proxy, retry))
        assert got["result"]["content"]["text"] == "here"
