"""The command line: `--` optional, flags before the command, the rest belongs to the child."""

from __future__ import annotations

import sys

import pytest
from mcp_streamablehttp_proxy.cli import settings_from


def test_command_after_double_dash_keeps_its_own_flags() -> None:
    settings = settings_from(
        [
            "--port",
            "4000",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--",
            sys.executable,
            "-m",
            "x",
            "--port",
            "9",
        ]
    )
    assert settings.port == 4000
    assert settings.env == {"A": "1", "B": "x=y"}
    assert settings.command == [sys.executable, "-m", "x", "--port", "9"]


def test_command_without_double_dash() -> None:
    settings = settings_from(["--max-sessions", "7", sys.executable, "-m", "mcp_server_fetch"])
    assert settings.max_sessions == 7
    assert settings.command == [sys.executable, "-m", "mcp_server_fetch"]


def test_pool_flags() -> None:
    settings = settings_from(
        [
            *("--pool-size", "6", "--pool-warm", "2", "--pool-max-requests", "50"),
            *("--pool-max-age", "60", "--pool-idle-timeout", "0"),
            *("--", sys.executable),
        ]
    )
    assert (settings.pool_size, settings.pool_warm, settings.pool_max_requests) == (6, 2, 50)
    assert (settings.pool_max_age, settings.pool_idle_timeout) == (60, 0)
    assert settings.modern_protocol_versions == ["2026-07-28"]
    off = settings_from(["--modern-protocol-versions", "", "--", sys.executable])
    assert off.modern_protocol_versions == []
    assert settings.pool_client_capabilities == ["sampling", "elicitation", "roots"]
    some = settings_from(["--pool-client-capabilities", "elicitation,sampling", sys.executable])
    assert some.pool_client_capabilities == ["elicitation", "sampling"]
    none = settings_from(["--pool-client-capabilities", "", "--", sys.executable])
    assert none.pool_client_capabilities == []


def test_bad_pool_values_are_refused_clearly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit):
        settings_from(["--pool-size", "2", "--pool-warm", "3", "--", sys.executable])
    assert "pool_warm (3) exceeds pool_size (2)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        settings_from(["--modern-protocol-versions", "2025-11-25", "--", sys.executable])
    assert "not a per-request revision" in capsys.readouterr().err
    monkeypatch.setenv("MCP_PROXY_PROTOCOL_VERSIONS", "2025-11-25,2026-07-28")
    with pytest.raises(SystemExit):
        settings_from(["--", sys.executable])
    assert "MCP_PROXY_MODERN_PROTOCOL_VERSIONS" in capsys.readouterr().err
    monkeypatch.delenv("MCP_PROXY_PROTOCOL_VERSIONS")
    with pytest.raises(SystemExit):
        settings_from(["--pool-client-capabilities", "sampling,tasks", "--", sys.executable])
    assert "tasks: not a client capability the proxy can relay" in capsys.readouterr().err
    monkeypatch.setenv("MCP_PROXY_POOL_CHILD_PROTOCOL_VERSION", "2026-07-28")
    with pytest.raises(SystemExit):
        settings_from(["--", sys.executable])
    assert "not a handshake revision" in capsys.readouterr().err


def test_bad_values_are_refused_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        settings_from(["--env", "NOEQUALS", "--", sys.executable])
    assert exit_info.value.code == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        settings_from(["--session-timeout", "0", "--", sys.executable])
    assert "greater than 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        settings_from(["--cwd", "/no/such/dir", "--", sys.executable])
    assert "does not exist" in capsys.readouterr().err
