"""The bridge as a desktop client runs it: a child process on stdio, driven by the official
SDK's stdio client, forwarding to services behind real Traefik and ForwardAuth."""

from __future__ import annotations

import pytest
from client_testkit import ClientHome, bridge

from scripts.stack import Stack
from testsupport.mcp_client import sampling_reply, text_of

pytestmark = pytest.mark.anyio


def sign_in(home: ClientHome, url: str) -> None:
    done = home.run("--server-url", url, "--login")
    assert done.returncode == 0, done.stderr


async def test_tools_pass_through_and_the_service_sees_our_identity(
    stack: Stack, home: ClientHome
) -> None:
    url = f"{stack.gateway_url}/echo-stateless/mcp"
    sign_in(home, url)
    client_id = home.entry(url)["client"]["client_id"]
    async with bridge(home, url) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        echoed = text_of(await client.call_tool("echo", {"message": "through the bridge"}))
        context = text_of(await client.call_tool("authContext", {}))
    assert {"echo", "authContext"} <= tools
    assert echoed == "through the bridge"
    assert "oidc:alice" in context
    assert client_id in context
    assert home.visits() == 1


async def test_server_to_client_requests_progress_resources_and_prompts_pass_through(
    stack: Stack, home: ClientHome
) -> None:
    url = f"{stack.gateway_url}/everything/mcp"
    sign_in(home, url)
    events: list[str] = []

    sampling = sampling_reply("answered over stdio", events, "sampling request")

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        events.append(f"progress {value:g}")

    async with bridge(home, url, sampling_callback=sampling) as client:
        resources = (await client.list_resources()).resources
        prompts = (await client.list_prompts()).prompts
        sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hi"})
        events.append("sampling result")
        progressed = await client.call_tool(
            "trigger-long-running-operation",
            {"duration": 1, "steps": 2},
            progress_callback=on_progress,
        )
    assert resources and prompts
    assert "answered over stdio" in text_of(sampled)
    assert "completed" in text_of(progressed)
    assert events == ["sampling request", "sampling result", "progress 1", "progress 2"]


async def test_without_credentials_it_answers_and_names_the_login_command(
    stack: Stack, home: ClientHome
) -> None:
    url = f"{stack.gateway_url}/echo-stateless/mcp"
    async with bridge(home, url) as client:
        assert (await client.list_tools()).tools == []
        refused = await client.call_tool("echo", {"message": "anyone there?"})
        assert refused.is_error
        assert f"--server-url {url} --login" in text_of(refused)
        assert home.visits() == 0  # never opened a browser by itself

        # Signing in elsewhere is enough: the running bridge connects on the next request.
        sign_in(home, url)
        echoed = await client.call_tool("echo", {"message": "signed in meanwhile"})
    assert not echoed.is_error
    assert text_of(echoed) == "signed in meanwhile"


async def test_a_configured_bridge_signs_in_by_itself(stack: Stack, home: ClientHome) -> None:
    url = f"{stack.gateway_url}/echo-stateful/mcp"
    home.extra_env["MCP_CLIENT_BROWSER_LOGIN"] = "true"
    async with bridge(home, url) as client:
        echoed = await client.call_tool("echo", {"message": "browser from the bridge"})
    assert text_of(echoed) == "browser from the bridge"
    assert home.visits() == 1
