"""`just up` / `just down`: the local stack through real Traefik, and its life cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx2
import psutil
import pytest

from scripts.stack import ROOT, LocalService, Stack
from testsupport.mcp_client import mcp_client, text_of
from testsupport.net import free_port
from testsupport.oauth_client import TokenFor


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path", ["/echo-stateless/mcp", "/echo-stateful/mcp", "/echo-stateful/mcp/"]
)
async def test_tools_answer_through_traefik(gateway: Stack, token_for: TokenFor, path: str) -> None:
    token = await token_for(path.strip("/").split("/")[0])
    async with mcp_client(gateway.gateway_url + path, token=token) as client:
        result = await client.call_tool("echo", {"message": f"via {path}"})
        headers = text_of(await client.call_tool("printHeader", {}))
    assert text_of(result) == f"via {path}"
    assert "x-forwarded-prefix" in headers  # it really went through Traefik
    assert f"127.0.0.1:{gateway.gateway_port}" in headers


@pytest.mark.anyio
async def test_aliased_identity_headers_are_dropped_at_the_edge(
    gateway: Stack, token_for: TokenFor
) -> None:
    async with mcp_client(
        gateway.gateway_url + "/echo-stateless/mcp",
        headers={"X_User_Id": "aliased"},
        token=await token_for("echo-stateless"),
    ) as client:
        headers = text_of(await client.call_tool("printHeader", {}))
    assert "aliased" not in headers


def test_traefik_runs_with_the_compose_environment(gateway: Stack) -> None:
    """Traefik's environment in compose (${NAME:-default} resolved) is what the local one gets."""
    compose = gateway.compose["services"]["traefik"]["environment"]
    running = psutil.Process(gateway.traefik.pid).environ()
    assert set(compose) <= set(running)
    assert running["GOMAXPROCS"] == os.environ.get("TRAEFIK_GOMAXPROCS", "1")
    assert running["MCP_GATEWAY_VERIFY_URL"].endswith("/verify")
    assert running["MCP_GATEWAY_VERIFY_URL"].startswith("http://127.0.0.1:")


@pytest.mark.anyio
async def test_the_auth_service_mirrors_revocations_over_its_password_protected_valkey(
    gateway: Stack,
) -> None:
    """/verify asks Valkey nothing once the mirror is live; here it subscribes with AUTH."""

    async def mirrored(http: httpx2.AsyncClient) -> bool:
        health = (await http.get(f"{gateway.gateway_url}/health")).json()
        return bool(health.get("revocations") == "mirrored")

    async with httpx2.AsyncClient() as http:
        with anyio.fail_after(15):
            while not await mirrored(http):  # noqa: ASYNC110 - another process decides when
                await anyio.sleep(0.1)
    auth = next(s for s in gateway.services if s.name == "auth")
    assert any("PASSWORD" in name and value for name, value in auth.env.items())


def test_no_secret_of_the_stack_is_on_a_command_line(gateway: Stack) -> None:
    """Every local user can read command lines (`ps`): the Valkey password comes from a file."""
    assert gateway.secrets, "the stack made no secrets: nothing was checked"
    processes = [s.process for s in gateway.services if s.process] + [gateway.traefik]
    command_lines = [" ".join(psutil.Process(p.pid).cmdline()) for p in processes if p]
    assert len(command_lines) == len(gateway.services) + 1
    for secret in gateway.secrets.values():
        assert not [line for line in command_lines if secret in line]
    conf = next(Path(arg) for arg in _valkey(gateway).argv if arg.endswith("-password.conf"))
    assert conf.stat().st_mode & 0o777 == 0o600


def _valkey(gateway: Stack) -> LocalService:
    return next(s for s in gateway.services if s.name == "redis")


def _stack_children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_up_refuses_a_second_stack_and_down_leaves_nothing_running(tmp_path: Path) -> None:
    env = {**os.environ, "GATEWAY_PORT": str(free_port())}
    command = [sys.executable, "-m", "scripts.stack"]
    state = ["--state-dir", str(tmp_path)]
    first = subprocess.Popen(
        [*command, "up", *state], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert first.stdout is not None
        banner = []
        for line in first.stdout:
            banner.append(line)
            if "The gateway is up" in line:
                break
        else:
            pytest.fail("stack did not come up:\n" + "".join(banner))
        children = _stack_children(first.pid)
        assert len(children) >= 3  # traefik and both echo servers

        second = subprocess.run(
            [*command, "up", *state], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1
        assert "already running" in second.stdout

        down = subprocess.run(
            [*command, "down", *state],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert down.returncode == 0
        assert first.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(c.is_running() for c in children):
            time.sleep(0.1)
        assert not [c for c in children if c.is_running() and c.status() != "zombie"]
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


def test_without_node_the_stack_leaves_out_everything_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine without Node.js: the plan drops the npx-wrapped service, keeps the rest."""
    tools = tmp_path / "bin"
    tools.mkdir()
    uvx = shutil.which("uvx")
    assert uvx, "uvx comes with uv"
    (tools / "uvx").symlink_to(uvx)
    # The workspace's console scripts, Traefik and uvx: everything but Node.js.
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), str(tools)]))
    assert shutil.which("npx") is None
    stack = Stack(gateway_port=free_port(), state_dir=tmp_path)
    stack.services = stack._plan()
    planned = {svc.name for svc in stack.services}
    assert stack.left_out == {"everything": "`npx` is not on PATH (install Node.js to serve it)"}
    assert planned == {*stack.compose["x-local-only"], *local_services(stack)} - {"everything"}
    assert "/everything/mcp" not in stack.mcp_paths()
    assert "/time/mcp" in stack.mcp_paths()


def local_services(stack: Stack) -> set[str]:
    return {name for name, svc in stack.compose["services"].items() if svc.get("x-local")}
