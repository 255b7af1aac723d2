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
