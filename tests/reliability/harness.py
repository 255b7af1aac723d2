"""What the reliability tests share: control of a running stack, memory, Traefik's access log.

Single services of a running Stack are stopped, killed, suspended and
restarted through its public attributes only: `stack.services` (LocalService:
name, argv, env, port, process) and `stack.traefik`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psutil
import pytest
import redis

from scripts.stack import LocalService, Stack
from testsupport.net import wait_port
from testsupport.oauth_client import login, register
from testsupport.processes import ManagedProcess

MiB = 1024 * 1024
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FIGURES: pytest.StashKey[list[str]] = pytest.StashKey()
MCP_SERVICES = ("echo-stateless", "echo-stateful", "fetch", "time", "everything")
PROXIED = ("time", "everything")
HEALTH_CHECK_INTERVAL = 5.0  # traefik.http.services.<name>.loadbalancer.healthcheck.interval


# --- figures ------------------------------------------------------------------------------


def report(config: pytest.Config, title: str, lines: list[str]) -> None:
    """Keep figures for the end of the run (and the artifacts file), whatever -s says."""
    block = [f"{title}:", *(f"  {line}" for line in lines)]
    config.stash.setdefault(FIGURES, []).extend(block)
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "reliability-figures.txt").open("a") as out:
        out.write(time.strftime("%Y-%m-%d %H:%M:%S ") + "\n".join(block) + "\n")


# --- controlling one service of a running stack ------------------------------------------


@dataclass
class Control:
    """Stop, kill, suspend and restart single services of a running Stack."""

    stack: Stack
    tokens: Mapping[str, str] = field(default_factory=dict)  # service -> access token

    def service(self, name: str) -> LocalService:
        return next(s for s in self.stack.services if s.name == name)

    def process(self, name: str) -> ManagedProcess:
        if name == "traefik":
            assert self.stack.traefik is not None
            return self.stack.traefik
        proc = self.service(name).process
        assert proc is not None, f"{name} was never started"
        return proc

    def pid(self, name: str) -> int:
        return self.process(name).pid

    def pids(self) -> dict[str, int]:
        return {name: self.pid(name) for name in ["traefik", *self.names()]}

    def names(self) -> list[str]:
        return [s.name for s in self.stack.services]

    def alive(self, name: str) -> bool:
        proc = self.process(name).proc
        return proc is not None and proc.poll() is None

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the service's process group and reap it."""
        proc = self.process(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        assert proc.proc is not None
        proc.proc.wait(timeout=30)

    def stop(self, name: str) -> None:
        self.process(name).stop(grace=10)

    def suspend(self, name: str) -> None:
        os.killpg(self.pid(name), signal.SIGSTOP)

    def resume(self, name: str) -> None:
        os.killpg(self.pid(name), signal.SIGCONT)

    def start(self, name: str, env: Mapping[str, str] | None = None) -> None:
        """Start a stopped service again: same command, port and environment (plus `env`)."""
        svc = self.service(name)
        assert not (svc.process and self.alive(name)), f"{name} is still running"
        svc.env.update(env or {})
        svc.process = ManagedProcess(
            svc.argv,
            log_path=self.stack.state_dir / "logs" / f"{svc.log_name}.log",
            env={**self.stack.extra_env, **svc.env},
        ).start()
        if svc.health == "tcp":
            wait_port("127.0.0.1", svc.port, timeout=60)
        else:
            svc.process.wait_healthy(svc.url + svc.health, timeout=60)
        if name in self.tokens:
            self.wait_routed(name)

    def wait_routed(self, name: str, timeout: float = 60) -> None:
        """Until Traefik routes to the service again, and keeps doing so for one whole
        health-check interval (5 s in the labels): a check that ran while the service was
        down, or on a connection to the old process, takes it out of the load balancer
        until the next one. A bounded wait, not a timing test."""
        url = f"{self.stack.gateway_url}/{name}/mcp"
        headers = {
            "Authorization": f"Bearer {self.tokens[name]}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        deadline = time.monotonic() + timeout
        routed_since: float | None = None
        while time.monotonic() < deadline:
            answer = httpx2.post(url, content=b"{}", headers=headers, timeout=10)
            if answer.text.strip() == "Service Unavailable":
                routed_since = None
            elif routed_since is None:
                routed_since = time.monotonic()
            elif time.monotonic() - routed_since > HEALTH_CHECK_INTERVAL + 1:
                return
            time.sleep(0.1)
        raise TimeoutError(f"Traefik does not route to {name} steadily again")

    def restart(self, name: str, env: Mapping[str, str] | None = None) -> None:
        self.stop(name)
        self.start(name, env)

    @contextlib.contextmanager
    def configured(self, name: str, env: Mapping[str, str]) -> Iterator[None]:
        """The service restarted with `env` for the block, then as it was."""
        svc = self.service(name)
        before = dict(svc.env)
        self.restart(name, env)
        try:
            yield
        finally:
            svc.env.clear()
            svc.env.update(before)
            if self.alive(name):
                self.stop(name)
            self.start(name)

    def ensure_running(self) -> None:
        """Bring back whatever a failed test left stopped (a suspended one is resumed)."""
        for name in self.names():
            proc = self.process(name).proc
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGCONT)
            else:
                self.start(name)

    # --- what they hold ----------------------------------------------------------------

    def rss(self, name: str) -> int:
        return int(psutil.Process(self.pid(name)).memory_info().rss)

    def children_rss(self, name: str) -> tuple[int, int]:
        """(count, total RSS) of a service's descendants: the proxies' children."""
        total, count = 0, 0
        for child in psutil.Process(self.pid(name)).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
                count += 1
        return count, total

    def memory(self) -> dict[str, int]:
        """RSS of every process of the stack; the proxies' children as `<name>+children`."""
        figures = {name: self.rss(name) for name in ["traefik", *self.names()]}
        for name in PROXIED:
            figures[f"{name}+children"] = self.children_rss(name)[1]
        return figures

    def redis(self) -> redis.Redis:
        svc = self.service("redis")
        return redis.Redis(
            host="127.0.0.1",
            port=svc.port,
            password=self.stack.secrets.get("redis"),
            socket_timeout=5,
            decode_responses=True,
        )


def mib(value: int) -> str:
    return f"{value / MiB:.1f} MiB"


class PeakRss:
    """The highest RSS of some processes while the block runs, sampled every 20 ms."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.start = {name: p.memory_info().rss for name, p in self.procs.items()}
        self.peak = dict(self.start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            for name, proc in self.procs.items():
                with contextlib.suppress(psutil.NoSuchProcess):
                    self.peak[name] = max(self.peak[name], proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def growth(self) -> dict[str, int]:
        return {name: self.peak[name] - self.start[name] for name in self.procs}


# --- what reached a service: Traefik's own access log ------------------------------------

ACCESS_LINE = re.compile(
    r'^\S+ - \S+ \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<uri>\S+) [^"]*" (?P<status>\d{3}) '
    r'\S+ "[^"]*" "[^"]*" \d+ "(?P<router>[^"]*)" "(?P<backend>[^"]*)" \d+ms$'
)


@dataclass(frozen=True)
class Access:
    time: str
    method: str
    uri: str
    status: int
    router: str
    backend: str  # "-" when the request never reached a service

    @property
    def reached_a_service(self) -> bool:
        return self.backend not in ("", "-")


@dataclass
class AccessLog:
    path: Path
    offsets: list[int] = field(default_factory=list)

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def since(self, mark: int) -> list[Access]:
        with self.path.open("rb") as log:
            log.seek(mark)
            text = log.read().decode(errors="replace")
        entries = []
        for line in text.splitlines():
            if match := ACCESS_LINE.match(line):
                entries.append(
                    Access(
                        match["time"],
                        match["method"],
                        match["uri"],
                        int(match["status"]),
                        match["router"],
                        match["backend"],
                    )
                )
        return entries

    def wait_for(self, mark: int, count: int, what: str = "", timeout: float = 30) -> list[Access]:
        """The entries since `mark` whose URI contains `what`, once there are `count` of them.

        Traefik writes a line when a request ends; a bounded wait, not a timing test.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.since(mark) if what in e.uri]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@dataclass
class Signed:
    """A client registered through the gateway and signed in for each MCP service."""

    client: dict[str, Any]
    tokens: dict[str, dict[str, Any]]

    def access(self, service: str) -> str:
        return str(self.tokens[service]["access_token"])


async def signed_in(base: str, services: tuple[str, ...] = MCP_SERVICES) -> Signed:
    """Register one client (with refresh tokens) and get a token for each service."""
    client = await register(base, grant_types=["authorization_code", "refresh_token"])
    tokens = {}
    for service in services:
        tokens[service] = await login(base, f"{base}/{service}/mcp", client=client)
    return Signed(client, tokens)


def sign_in(base: str, services: tuple[str, ...] = MCP_SERVICES) -> Signed:
    """`signed_in`, for code that is not async."""
    return asyncio.run(signed_in(base, services))
