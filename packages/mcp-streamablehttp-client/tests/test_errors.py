"""Whatever goes wrong, a clear message: non-zero exit for one-shot commands, an error
answer (never a hang) on the bridge."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_testkit import ClientHome, bridge
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scripts.stack import Stack
from testsupport.net import free_port
from testsupport.processes import serve_app


def test_a_bad_server_url_is_a_usage_error(home: ClientHome) -> None:
    done = home.run("--server-url", "gateway.example/mcp", "--list-tools")
    assert done.returncode == 2
    assert "must start with http:// or https://" in done.stderr
    missing = home.run("--list-tools")
    assert missing.returncode == 2
    assert "MCP_SERVER_URL" in missing.stderr


def test_an_unreachable_server(home: ClientHome) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    done = home.run("--server-url", url, "--list-tools")
    assert done.returncode == 1
    assert f"Cannot reach {url}" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_mcp_endpoint_at_that_path(stack: Stack, home: ClientHome) -> None:
    url = f"{stack.gateway_url}/no-such-service/mcp"
    done = home.run("--server-url", url, "-c", "echo message=x")
    assert done.returncode == 1
    assert f"No MCP endpoint at {url} (HTTP 404 to a POST)" in done.stderr


@pytest.fixture
def unprotected_metadata_server() -> Iterator[str]:
    """A server that wants a token but publishes no OAuth metadata anywhere."""

    async def mcp(request: Request) -> Response:
        return JSONResponse({"error": "unauthorized"}, 401, {"WWW-Authenticate": "Bearer"})

    app = Starlette(routes=[Route("/mcp", mcp, methods=["GET", "POST"])])
    with serve_app(app) as url:
        yield f"{url}/mcp"


def test_a_server_without_oauth_metadata(
    unprotected_metadata_server: str, home: ClientHome
) -> None:
    done = home.run("--server-url", unprotected_metadata_server, "--login")
    assert done.returncode == 1
    assert "publishes no OAuth metadata" in done.stderr
    assert home.visits() == 0


def test_registration_refused(tmp_path_factory: pytest.TempPathFactory, home: ClientHome) -> None:
    with Stack(
        gateway_port=free_port(),
        state_dir=tmp_path_factory.mktemp("gated-stack"),
        env={"REGISTRATION_INITIAL_ACCESS_TOKEN": "only-for-the-operator-0123456789"},
    ) as gated:
        done = home.run("--server-url", f"{gated.gateway_url}/echo-stateless/mcp", "--login")
    assert done.returncode == 1
    assert "refused to register this client" in done.stderr
    assert home.visits() == 0


async def _bridge_call(home: ClientHome, url: str) -> str:
    failure: BaseException | None = None
    try:
        async with bridge(home, url) as client:
            await client.call_tool("echo", {"message": "x"})
    except Exception as exc:
        failure = exc
        while isinstance(failure, BaseExceptionGroup) and failure.exceptions:
            failure = failure.exceptions[0]
    assert isinstance(failure, MCPError), f"an MCP error answer, not {failure!r}"
    return str(failure)


@pytest.mark.anyio
async def test_the_bridge_answers_when_the_server_is_unreachable(home: ClientHome) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    home.credentials.parent.mkdir(parents=True)
    token = {"access_token": "stale", "token_type": "Bearer", "expires_in": 3600}
    entry = {"tokens": token, "expires_at": time.time() + 3600}
    home.credentials.write_text(json.dumps({"servers": {url: entry}}))
    message = await _bridge_call(home, url)
    assert f"Cannot reach {url}" in message


def test_claude_config_prints_an_mcp_servers_entry(home: ClientHome) -> None:
    url = "https://gateway.example/echo-stateless/mcp"
    done = home.run("--server-url", url, "--claude-config")
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["mcpServers"]["echo-stateless"]
    assert entry["command"] == "mcp-streamablehttp-client"
    assert entry["args"] == ["--server-url", url]


def test_settings_come_from_the_env_file(home: ClientHome, tmp_path: Path) -> None:
    url = "https://gateway.example/fetch/mcp"
    (home.root / ".env").write_text(f"MCP_SERVER_URL={url}\n")
    done = home.run("--claude-config", "fetch-tools")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mcpServers"]["fetch-tools"]["args"] == ["--server-url", url]
