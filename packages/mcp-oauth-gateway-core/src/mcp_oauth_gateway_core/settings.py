"""Building blocks of every service's pydantic-settings class."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic_settings import NoDecode

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

# A list read from one environment variable as `A,B` rather than JSON.
CommaList = Annotated[list[str], NoDecode]


def split_commas(value: object) -> object:
    """A field validator (mode="before") for CommaList fields."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value
