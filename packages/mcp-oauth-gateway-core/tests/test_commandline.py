"""One-line setting errors that name the environment variable, and --version."""

from __future__ import annotations

import argparse

import pytest
from mcp_oauth_gateway_core.commandline import add_version, load_settings
from mcp_oauth_gateway_core.settings import CommaList, split_commas
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Example(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    port: int = 3000
    log_file: str = Field("", validation_alias=AliasChoices("EXAMPLE_LOG_FILE", "LOG_FILE"))
    origins: CommaList = []

    @field_validator("origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_commas(value)


def test_a_bad_variable_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXAMPLE_PORT", "eighty")
    parser = argparse.ArgumentParser(prog="example")
    with pytest.raises(SystemExit) as ended:
        load_settings(parser, Example, {})
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("example: invalid settings: EXAMPLE_PORT: ")
    assert "Traceback" not in err


def test_flags_override_the_environment_and_lists_split_on_commas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXAMPLE_PORT", "80")
    monkeypatch.setenv("EXAMPLE_ORIGINS", "https://a.example, https://b.example")
    settings = load_settings(argparse.ArgumentParser(), Example, {"port": 8080})
    assert settings.port == 8080
    assert settings.origins == ["https://a.example", "https://b.example"]


def test_version_names_the_installed_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="x")
    add_version(parser, "mcp-oauth-gateway-core")
    with pytest.raises(SystemExit) as ended:
        parser.parse_args(["--version"])
    assert ended.value.code == 0
    assert capsys.readouterr().out.strip() == "mcp-oauth-gateway-core 0.3.0"
