"""The whole local stack under load, faults and hostile input.

These tests start their own stack (scripts/stack.py), apart from the `gateway`
one the other tests share, because they kill and restart its parts (see
harness.py). Figures (calls, failures, memory) are printed at the end of the
pytest run under "reliability figures" and written to
artifacts/reliability-figures.txt.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scripts.stack import Stack
from tests.reliability.harness import FIGURES, AccessLog, Control, Signed, sign_in
from testsupport.net import free_port


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def reliability_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: these tests kill and restart its parts."""
    with Stack(
        gateway_port=free_port(),
        state_dir=tmp_path_factory.mktemp("reliability"),
        replicas={},  # one process per service, whatever STACK_REPLICAS says
    ) as stack:
        yield stack


@pytest.fixture
def control(reliability_stack: Stack, signed: Signed) -> Iterator[Control]:
    """The stack's controls; whatever a test leaves stopped or suspended is brought back."""
    ctl = Control(reliability_stack, {name: signed.access(name) for name in signed.tokens})
    try:
        yield ctl
    finally:
        ctl.ensure_running()


@pytest.fixture
def access_log(reliability_stack: Stack) -> AccessLog:
    return AccessLog(reliability_stack.state_dir / "logs" / "traefik-access.log")


@pytest.fixture(scope="session")
def signed(reliability_stack: Stack) -> Signed:
    return sign_in(reliability_stack.gateway_url)
