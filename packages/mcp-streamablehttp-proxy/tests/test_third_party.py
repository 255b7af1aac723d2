"""Real stdio servers from PyPI and npm behind the proxy, driven by the official SDK client.

They run through uvx / npx, never from the workspace's environment (they pin
other versions of the SDK). The first run downloads them: the fixtures warm
them up with a generous timeout before the proxy starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from proxy_testkit import (
    EVERYTHING_COMMAND,
    FETCH,
    TIME_COMMAND,
    Proxy,
    running_proxy,
    warm_up,
)
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from testsupport.mcp_client import mcp_client, sampling_reply, text_of
from testsupport.processes import serve_app


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    warm_up(EVERYTHING_COMMAND)
    with running_proxy(tmp_path_factory.mktemp("everything"), command=EVERYTHING_COMMAND) as proxy:
        yield proxy


def test_mcp_server_time(tmp_path: Path) -> None:
    warm_up([*TIME_COMMAND[:-2], "--help"])

    with running_proxy(tmp_path, command=TIME_COMMAND) as proxy:

        async def session() -> tuple[list[str], str]:
            async with mcp_client(proxy.url) as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                result = await client.call_tool(
                    "convert_time",
                    {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
                )
                assert not result.is_error, text_of(result)
                return tools, text_of(result)

        tools, converted = anyio.run(session)
        assert {"get_current_time", "convert_time"} <= set(tools)
        assert "Asia/Tokyo" in converted and "21:00" in converted
        assert proxy.children() == []  # the client's DELETE ended the child


def test_mcp_server_fetch(tmp_path: Path) -> None:
    page = "<html><body><h1>Proxied heading</h1><p>Through the proxy.</p></body></html>"
    site = Starlette(routes=[Route("/page", lambda _: HTMLResponse(page))])
    command = ["uvx", "--from", FETCH, "mcp-server-fetch", "--allow-private-ips"]
    command.append("--ignore-robots-txt")
    warm_up([*command[:-1], "--help"])
    with serve_app(site) as base, running_proxy(tmp_path, command=command) as proxy:

        async def session() -> str:
            async with mcp_client(proxy.url) as client:
                result = await client.call_tool("fetch", {"url": base + "/page"})
                assert not result.is_error, text_of(result)
                return text_of(result)

        fetched = anyio.run(session)
        assert "Proxied heading" in fetched and "Through the proxy." in fetched


def test_everything_tools_resources_prompts(everything: Proxy) -> None:
    async def session() -> dict[str, Any]:
        async with mcp_client(everything.url) as client:
            echo = await client.call_tool("echo", {"message": "through the proxy"})
            total = await client.call_tool("get-sum", {"a": 2, "b": 40})
            resources = (await client.list_resources()).resources
            read = await client.read_resource(resources[0].uri)
            prompts = [p.name for p in (await client.list_prompts()).prompts]
            prompt = await client.get_prompt("args-prompt", {"city": "Lisbon", "state": "PT"})
            return {
                "echo": text_of(echo),
                "sum": text_of(total),
                "read": read.contents[0],
                "uri": str(resources[0].uri),
                "prompts": prompts,
                "prompt": prompt.messages[0].content,
            }

    seen = anyio.run(session)
    assert "through the proxy" in seen["echo"]
    assert "42" in seen["sum"]
    assert str(seen["read"].uri) == seen["uri"]
    assert {"simple-prompt", "args-prompt"} <= set(seen["prompts"])
    assert "Lisbon" in seen["prompt"].text


def test_everything_progress_and_logging(everything: Proxy) -> None:
    progress: list[float] = []
    logs: list[types.LoggingMessageNotificationParams] = []
    logged = anyio.Event()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)
        logged.set()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def session() -> str:
        async with mcp_client(everything.url, logging_callback=on_log) as client:
            await client.call_tool("toggle-simulated-logging", {})
            result = await client.call_tool(
                "trigger-long-running-operation",
                {"duration": 1, "steps": 3},
                progress_callback=on_progress,
            )
            with anyio.fail_after(30):
                await logged.wait()
            await client.call_tool("toggle-simulated-logging", {})
            return text_of(result)

    done = anyio.run(session)
    assert "completed" in done
    assert progress == [1.0, 2.0, 3.0]
    assert logs and logs[0].level in {
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    }


def test_everything_sampling_elicitation_roots(everything: Proxy) -> None:
    asked: list[str] = []

    sampling = sampling_reply("sampled by the test client", asked, "sampling")

    async def elicitation(_: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append("elicitation")
        return types.ElicitResult(action="accept", content={"name": "Ada Proxy"})

    async def roots(_: Any) -> types.ListRootsResult:
        asked.append("roots")
        return types.ListRootsResult(
            roots=[types.Root(uri="file:///srv/proxied-root", name="proxied")]  # type: ignore[arg-type]
        )

    async def session() -> dict[str, str]:
        async with mcp_client(
            everything.url,
            sampling_callback=sampling,
            elicitation_callback=elicitation,
            list_roots_callback=roots,
        ) as client:
            sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hi"})
            elicited = await client.call_tool("trigger-elicitation-request", {})
            listed = await client.call_tool("get-roots-list", {})
            return {
                "sampled": text_of(sampled),
                "elicited": text_of(elicited),
                "roots": text_of(listed),
            }

    seen = anyio.run(session)
    assert "sampled by the test client" in seen["sampled"]
    assert "Ada Proxy" in seen["elicited"]
    assert "file:///srv/proxied-root" in seen["roots"]
    assert {"sampling", "elicitation", "roots"} <= set(asked)


def test_everything_list_changed_notifications(everything: Proxy) -> None:
    methods: list[str] = []
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        methods.append(str(getattr(message, "method", type(message).__name__)))
        if methods[-1] == "notifications/resources/list_changed":
            changed.set()

    async def session() -> list[str]:
        async with mcp_client(everything.url, message_handler=on_message) as client:
            made = await client.call_tool(
                "gzip-file-as-resource",
                {"name": "proxied.txt.gz", "data": "data:text/plain;base64,cHJveGllZA=="},
            )
            assert not made.is_error, text_of(made)
            with anyio.fail_after(30):
                await changed.wait()
            return [str(r.uri) for r in (await client.list_resources()).resources]

    uris = anyio.run(session)
    assert "notifications/resources/list_changed" in methods
    assert any(uri.endswith("proxied.txt.gz") for uri in uris)
