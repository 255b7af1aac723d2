"""Many concurrent MCP sessions through the gateway for a while: zero failed calls, bounded memory.

RELIABILITY_LOAD_SESSIONS (default 20) sessions call tools for
RELIABILITY_LOAD_SECONDS (default 15) seconds through Traefik, each call
asked of /verify first; CI runs 100 sessions for 60 seconds (.ci/run). The
sessions are spread over every MCP service: three tenths each on the two echo
servers, two tenths on fetch (a real fetch of a loopback page, through the
SSRF vetting), one tenth each on the proxied `time` and `everything` servers
(each of those sessions is a child process). Stateless services are called in
both protocol eras. Every answer is checked, not just counted: echoes must
come back unchanged, the stateful server must replay this session's last echo.

Memory: the RSS of every process is taken when all sessions are open and have
made a first call, and again when the load ends; no process may grow by more
than GROWTH_BOUND_MIB in between (the proxies' children are counted together
per proxy). The figures are printed under "reliability figures".
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from scripts.stack import Stack
from tests.reliability.harness import ARTIFACTS, Control, Signed, mib, report
from testsupport.mcp_client import mcp_client, text_of
from testsupport.net import free_port
from testsupport.processes import ManagedProcess

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SESSIONS = int(os.environ.get("RELIABILITY_LOAD_SESSIONS", "20"))
SECONDS = float(os.environ.get("RELIABILITY_LOAD_SECONDS", "15"))
GROWTH_BOUND_MIB = 64  # per process, between the warmed start and the end of the load
PAUSE = 0.2  # seconds between one session's calls
OPENING_AT_ONCE = 8
SHARES = {"echo-stateless": 3, "echo-stateful": 3, "fetch": 2, "time": 1, "everything": 1}
BOTH_ERAS = {"echo-stateless", "fetch"}
PAGE = "<html><body><h1>Load page</h1><p>Fetched through the gateway.</p></body></html>"


def plan(total: int) -> list[tuple[str, str]]:
    """(service, mode) for each session: SHARES by largest remainder, eras alternating."""
    weight = sum(SHARES.values())
    exact = {name: total * share / weight for name, share in SHARES.items()}
    counts = {name: int(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True):
        if sum(counts.values()) == total:
            break
        counts[name] += 1
    sessions = []
    for name, count in counts.items():
        for n in range(count):
            mode = "2026-07-28" if name in BOTH_ERAS and n % 2 else "legacy"
            sessions.append((name, mode))
    return sessions


@dataclass
class Tally:
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)

    def ok(self, service: str, seconds: float) -> None:
        self.calls[service] += 1
        self.latencies[service].append(seconds)

    def fail(self, service: str, what: str) -> None:
        self.calls[service] += 1
        self.failures.append(f"{service}: {what}"[:400])


async def call_once(client: Client, service: str, tag: str, n: int, site: str) -> None:
    """One checked call; AssertionError when the answer is not the expected one."""
    if service == "echo-stateless":
        message = f"{tag}-{n}"
        assert text_of(await client.call_tool("echo", {"message": message})) == message
    elif service == "echo-stateful":
        message = f"{tag}-{n}"
        assert text_of(await client.call_tool("echo", {"message": message})) == message
        if n % 4 == 0:
            replayed = text_of(await client.call_tool("replayLastEcho", {}))
            assert replayed.splitlines()[0] == message, replayed[:200]
    elif service == "fetch":
        result = await client.call_tool("fetch", {"url": f"{site}/page.html"})
        assert not result.is_error and "# Load page" in text_of(result), text_of(result)[:200]
    elif service == "time":
        result = await client.call_tool("get_current_time", {"timezone": "UTC"})
        assert not result.is_error and "UTC" in text_of(result), text_of(result)[:200]
    else:
        message = f"{tag}-{n}"
        assert message in text_of(await client.call_tool("echo", {"message": message}))


def save_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


@pytest.fixture(scope="module")
def load_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real web server on loopback for the fetch sessions."""
    folder = tmp_path_factory.mktemp("site")
    (folder / "page.html").write_text(PAGE)
    port = free_port()
    server = ManagedProcess(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        log_path=folder.parent / "site.log",
        cwd=folder,
    ).start()
    try:
        server.wait_healthy(f"http://127.0.0.1:{port}/page.html")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def fetch_may_reach_the_site(control: Control, load_site: str) -> Iterator[str]:
    """The fetch server with the site's loopback address allow-listed, for this test only."""
    with control.configured("fetch", {"MCP_FETCH_ALLOWED_NETWORKS": "127.0.0.1/32"}):
        yield load_site


@pytest.mark.timeout(int(SECONDS) + 420)
async def test_concurrent_sessions_through_the_gateway_never_fail(
    reliability_stack: Stack,
    control: Control,
    signed: Signed,
    fetch_may_reach_the_site: str,
    request: pytest.FixtureRequest,
) -> None:
    site = fetch_may_reach_the_site
    base = reliability_stack.gateway_url
    sessions = plan(SESSIONS)
    tally = Tally()
    opening = anyio.Semaphore(OPENING_AT_ONCE)
    ready = finished = 0
    all_ready, all_finished = anyio.Event(), anyio.Event()
    go, close = anyio.Event(), anyio.Event()
    deadline = [0.0]
    memory_before = control.memory()

    def one_ready() -> None:
        nonlocal ready
        ready += 1
        if ready == len(sessions):
            all_ready.set()

    def one_finished() -> None:
        nonlocal finished
        finished += 1
        if finished == len(sessions):
            all_finished.set()

    async def session(index: int, service: str, mode: str) -> None:
        tag = f"s{index}"
        counted = False
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with opening:
                    client = await stack.enter_async_context(
                        mcp_client(f"{base}/{service}/mcp", token=signed.access(service), mode=mode)
                    )
                    await call_once(client, service, tag, 0, site)
                tally.ok(service, 0.0)
                one_ready()
                counted = True
                await go.wait()
                n = 1
                while time.monotonic() < deadline[0]:
                    started = time.perf_counter()
                    try:
                        await call_once(client, service, tag, n, site)
                    except Exception as exc:
                        tally.fail(service, f"{mode} call {n}: {exc!r}")
                    else:
                        tally.ok(service, time.perf_counter() - started)
                    n += 1
                    await anyio.sleep(PAUSE)
                one_finished()
                await close.wait()  # the end figures are taken with every session open
        except Exception as exc:
            tally.fail(service, f"{mode} session: {exc!r}")
        finally:
            if not counted:
                one_ready()
            if not all_finished.is_set() and not close.is_set():
                one_finished()

    async with anyio.create_task_group() as tasks:
        for index, (service, mode) in enumerate(sessions):
            tasks.start_soon(session, index, service, mode)
        await all_ready.wait()
        memory_start = control.memory()
        started = time.monotonic()
        deadline[0] = started + SECONDS
        go.set()
        await all_finished.wait()  # every session has finished its last call
        memory_end = control.memory()
        elapsed = time.monotonic() - started
        close.set()
    dead = reliability_stack.failed()

    growth = {name: memory_end[name] - memory_start[name] for name in memory_start}
    total = sum(tally.calls.values())
    lines = [
        f"{len(sessions)} sessions for {SECONDS:g} s: {total} calls, {len(tally.failures)} failed, "
        f"{total / elapsed:.0f} calls/s",
    ]
    for service in SHARES:
        lat = sorted(tally.latencies[service]) or [0.0]
        count = sum(1 for s, _ in sessions if s == service)
        lines.append(
            f"{service}: {count} sessions, {tally.calls[service]} calls, "
            f"latency p50 {statistics.median(lat) * 1000:.0f} ms, "
            f"p95 {lat[int(len(lat) * 0.95) - 1 if len(lat) > 1 else 0] * 1000:.0f} ms"
        )
    lines.append(f"RSS before / start / end (bound: +{GROWTH_BOUND_MIB} MiB from start):")
    for name in memory_start:
        lines.append(
            f"  {name}: {mib(memory_before[name])} / {mib(memory_start[name])} / "
            f"{mib(memory_end[name])} ({growth[name] / 2**20:+.1f} MiB)"
        )
    for proxied in ("time", "everything"):
        children, _ = control.children_rss(proxied)
        lines.append(f"  {proxied}: {children} child processes left once the sessions closed")
    report(request.config, "load", lines)
    request.node.user_properties.append(("load_figures", "\n".join(lines)))
    save_json(
        ARTIFACTS / "reliability-load.json",
        {
            "sessions": len(sessions),
            "seconds": SECONDS,
            "calls": dict(tally.calls),
            "failures": tally.failures,
            "rss_before": memory_before,
            "rss_start": memory_start,
            "rss_end": memory_end,
        },
    )
    summary = "\n".join(lines)
    assert not dead, f"stopped during the load: {dead}\n{summary}"
    assert tally.failures == [], f"{len(tally.failures)} failed calls\n{summary}"
    assert all(tally.calls[s] > len(sessions) for s in SHARES), summary  # every service was busy
    grown = {n: g for n, g in growth.items() if g > GROWTH_BOUND_MIB * 2**20}
    assert not grown, f"grew by more than {GROWTH_BOUND_MIB} MiB: {grown}\n{summary}"


def test_the_plan_spreads_sessions_as_stated() -> None:
    assert plan(100).count(("echo-stateless", "legacy")) == 15
    counts = {name: sum(1 for s, _ in plan(100) if s == name) for name in SHARES}
    assert counts == {
        "echo-stateless": 30,
        "echo-stateful": 30,
        "fetch": 20,
        "time": 10,
        "everything": 10,
    }
    assert len(plan(7)) == 7 and {s for s, _ in plan(20)} == set(SHARES)
