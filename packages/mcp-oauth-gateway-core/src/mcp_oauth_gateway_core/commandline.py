"""What every console script does alike: --version, flags over settings, one-line errors, serve.

A bad setting ends the program with one line naming the environment variable
(and exit code 2), never a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import uvicorn
from pydantic import ValidationError
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


def add_version(parser: argparse.ArgumentParser, distribution: str) -> None:
    try:
        installed = version(distribution)
    except PackageNotFoundError:  # run from a source tree that was never installed
        installed = "unknown"
    parser.add_argument(
        "--version", action="version", version=f"{distribution} {installed}", help="print it"
    )


def given(args: argparse.Namespace, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """Only the flags that were given, as settings field values."""
    return {k: v for k, v in vars(args).items() if v is not None and k not in leave_out}


def variable_of(settings_class: type[BaseSettings], field: str) -> str:
    """The environment variable a settings field is read from (its first alias, or prefix+name)."""
    info = settings_class.model_fields.get(field)
    alias = info.validation_alias if info else None
    choices = getattr(alias, "choices", None)
    if choices:
        return str(choices[0])
    if isinstance(alias, str):
        return alias
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def describe(exc: ValidationError, settings_class: type[BaseSettings]) -> str:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        where = variable_of(settings_class, loc[0]) if loc else "settings"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def load_settings(
    parser: argparse.ArgumentParser, settings_class: type[S], values: Mapping[str, Any]
) -> S:
    """The settings from the environment with `values` over them, or exit 2 with one line."""
    try:
        return settings_class(**values)
    except ValidationError as exc:
        parser.exit(2, f"{parser.prog}: invalid settings: {describe(exc, settings_class)}\n")
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: invalid settings: {exc}\n")


def serve(app: Any, *, host: str, port: int, log_level: str, **options: Any) -> None:
    """uvicorn as every service runs it: its access log only when debugging."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=log_level == "DEBUG",
        **{"timeout_graceful_shutdown": 5, **options},
    )
