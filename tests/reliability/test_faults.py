"""Faults in a running gateway: Valkey killed mid-load, the auth service restarted or
unreachable, a proxy child killed. Real processes, killed for real, on loopback.

What reached a service is read from Traefik's own access log: a request that
ForwardAuth refused has no backend there ("-").
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import psutil
import pytest
from mcp import Client

from scripts.stack import Stack
from tests.reliability.harness import AccessLog, Control, Signed, report, signed_in
from testsupport.mcp_client import initialize_body, mcp_client, text_of
from testsupport.oauth_client import register

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = initialize_body("probe")
LIST_TOOLS = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
ECHOING = ("echo-stateless", "echo-stateful", "everything")


def stateful_sessions(stack: Stack) -> int:
    """The stateful echo server's own count of its sessions, asked directly, not via Traefik."""
    svc = next(s for s in stack.services if s.name == "echo-stateful")
    return int(httpx2.get(f"{svc.url}/health", timeout=5).json()["sessions"])


async def probe(
    http: httpx2.AsyncClient, base: str, service: str, token: str | None, mark: str
) -> httpx2.Response:
    """An initialize (which would open a session) to a service, marked in the URL."""
    headers = dict(ACCEPT)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    headers["X-User-Id"] = "forged"  # identity headers never help a request in
    return await http.post(f"{base}/{service}/mcp?probe={mark}", json=INITIALIZE, headers=headers)


@dataclass
class Load:
    """SDK sessions calling tools until stopped; what each call answered, and when."""

    calls: list[tuple[float, str, bool, str]] = field(default_factory=list)
    stop: anyio.Event = field(default_factory=anyio.Event)

    def ok_after(self, moment: float) -> dict[str, int]:
        counts: dict[str, int] = {}
        for at, who, ok, _ in self.calls:
            if ok and at > moment:
                counts[who] = counts.get(who, 0) + 1
        return counts

    def failures_between(self, start: float, end: float) -> list[str]:
        return [why for at, _, ok, why in self.calls if not ok and start < at < end]

    async def session(self, name: str, url: str, token: str) -> None:
        """One session kept open throughout: it must come back by itself after a fault."""
        async with mcp_client(url, token=token, http_timeout=15) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                message = f"{name}-{n}"
                try:
                    answer = text_of(await client.call_tool("echo", {"message": message}))
                    ok, why = message in answer, answer[:100]
                except Exception as exc:
                    ok, why = False, repr(exc)[:200]
                self.calls.append((time.monotonic(), name, ok, why))
                await anyio.sleep(0.1)


# --- Valkey -------------------------------------------------------------------------------


@pytest.mark.timeout(300)
async def test_valkey_killed_mid_load_loses_nothing_and_fails_closed(
    reliability_stack: Stack,
    control: Control,
    access_log: AccessLog,
    request: pytest.FixtureRequest,
) -> None:
    base = reliability_stack.gateway_url
    jwks = httpx2.get(f"{base}/jwks").json()
    before = await signed_in(base, ("echo-stateless", "echo-stateful", "everything"))
    revoked = await signed_in(base, ("echo-stateless",))
    async with httpx2.AsyncClient(timeout=15) as http:
        answer = await http.post(
            f"{base}/revoke",
            data={
                "token": revoked.access("echo-stateless"),
                "client_id": revoked.client["client_id"],
            },
        )
        assert answer.status_code == 200
    others = {name: pid for name, pid in control.pids().items() if name != "redis"}
    registered: list[dict[str, Any]] = []  # every registration the gateway acknowledged
    refused_registrations = 0
    load = Load()

    async def keep_registering() -> None:
        nonlocal refused_registrations
        while not load.stop.is_set():
            try:
                registered.append(await register(base))
            except AssertionError:  # register() insists on 201
                refused_registrations += 1
            await anyio.sleep(0.05)

    async with anyio.create_task_group() as tasks:
        for service in ECHOING:
            tasks.start_soon(load.session, service, f"{base}/{service}/mcp", before.access(service))
        tasks.start_soon(keep_registering)
        await anyio.sleep(3)
        acknowledged_before_kill = len(registered)
        mark = access_log.mark()
        killed_at = time.monotonic()
        await anyio.to_thread.run_sync(control.kill, "redis")
        await anyio.sleep(1.5)
        # The outage: every protected request is refused, none reaches a service.
        sessions_before = stateful_sessions(reliability_stack)
        async with httpx2.AsyncClient(timeout=30) as http:
            probes = {
                service: await probe(http, base, service, before.access(service), "outage")
                for service in ECHOING
            }
            unauthenticated = await probe(http, base, "echo-stateful", None, "outage-anon")
            health = await http.get(f"{base}/health")
            registration = await http.post(f"{base}/register", json={"redirect_uris": ["x"]})
        sessions_after = stateful_sessions(reliability_stack)
        await anyio.sleep(1.5)
        inner = (killed_at + 1, time.monotonic() - 0.5)  # certainly inside the outage
        restarted_at = time.monotonic()
        await anyio.to_thread.run_sync(control.start, "redis")
        # Recovery by itself: nothing else restarted, the same sessions carry on.
        await anyio.sleep(4)
        load.stop.set()
    recovered = load.ok_after(restarted_at)
    entries = access_log.since(mark)

    lines = [
        f"{len(load.calls)} calls by {len(ECHOING)} sessions, "
        f"{len(load.failures_between(*inner))} refused inside the outage; "
        f"{len(registered)} registrations acknowledged ({acknowledged_before_kill} before the "
        f"kill), {refused_registrations} refused during it",
        f"calls after the restart, per session: {recovered}",
    ]
    report(request.config, "valkey killed mid-load", lines)

    for service, answer in probes.items():
        assert answer.status_code == 503, (service, answer.status_code, answer.text)
        assert answer.json()["error"] == "temporarily_unavailable"
        assert int(answer.headers["retry-after"]) > 0
    assert unauthenticated.status_code == 401  # no token: refused without asking Redis
    assert health.status_code == 503 and registration.status_code == 503
    outage_probes = [e for e in entries if "probe=outage" in e.uri]
    assert len(outage_probes) == len(probes) + 1
    assert not [e for e in outage_probes if e.reached_a_service], outage_probes
    assert sessions_after == sessions_before  # no initialize got through
    assert load.failures_between(*inner), "the load saw no outage at all"
    assert control.pids() | {"redis": 0} == others | {"redis": 0}, "something else restarted"
    assert set(recovered) == set(ECHOING), f"a session did not come back by itself: {lines}"

    # Nothing acknowledged was lost: registrations, tokens, refresh tokens, revocations, key.
    async with httpx2.AsyncClient(timeout=15) as http:
        for client in registered:
            read = await http.get(
                f"{base}/register/{client['client_id']}",
                headers={"Authorization": f"Bearer {client['registration_access_token']}"},
            )
            assert read.status_code == 200, (client["client_id"], read.text)
        for service in ECHOING:
            answer = await http.post(
                f"{base}/{service}/mcp",
                json=INITIALIZE,
                headers={**ACCEPT, "Authorization": f"Bearer {before.access(service)}"},
            )
            assert answer.status_code == 200, (service, answer.text)
        refreshed = await http.post(
            f"{base}/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": before.tokens["echo-stateless"]["refresh_token"],
                "client_id": before.client["client_id"],
            },
        )
        assert refreshed.status_code == 200, refreshed.text
        still_revoked = await http.post(
            f"{base}/echo-stateless/mcp",
            json=INITIALIZE,
            headers={**ACCEPT, "Authorization": f"Bearer {revoked.access('echo-stateless')}"},
        )
        assert still_revoked.status_code == 401
        assert (await http.get(f"{base}/jwks")).json() == jwks


# --- the auth service ---------------------------------------------------------------------


@pytest.mark.timeout(180)
async def test_an_auth_restart_leaves_clients_working_with_their_tokens(
    reliability_stack: Stack, control: Control, request: pytest.FixtureRequest
) -> None:
    """The signing key lives in Redis: a restarted auth service accepts the tokens it issued."""
    base = reliability_stack.gateway_url
    jwks = httpx2.get(f"{base}/jwks").json()
    before = await signed_in(base, ("echo-stateless", "echo-stateful", "time"))
    revoked = await signed_in(base, ("echo-stateless",))
    httpx2.post(
        f"{base}/revoke",
        data={"token": revoked.access("echo-stateless"), "client_id": revoked.client["client_id"]},
    ).raise_for_status()
    pid = control.pid("auth")
    async with contextlib.AsyncExitStack() as stack:
        sessions: dict[str, Client] = {}
        for service in ("echo-stateless", "echo-stateful", "time"):
            sessions[service] = await stack.enter_async_context(
                mcp_client(f"{base}/{service}/mcp", token=before.access(service))
            )
        remembered = await sessions["echo-stateful"].call_tool("echo", {"message": "before"})
        assert text_of(remembered) == "before"

        await anyio.to_thread.run_sync(control.restart, "auth")
        assert control.pid("auth") != pid

        # The same sessions, the same tokens.
        replay = text_of(await sessions["echo-stateful"].call_tool("replayLastEcho", {}))
        echoed = text_of(await sessions["echo-stateless"].call_tool("echo", {"message": "after"}))
        now = text_of(await sessions["time"].call_tool("get_current_time", {"timezone": "UTC"}))
    async with httpx2.AsyncClient(timeout=15) as http:
        refreshed = await http.post(
            f"{base}/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": before.tokens["echo-stateful"]["refresh_token"],
                "client_id": before.client["client_id"],
            },
        )
        still_revoked = await http.post(
            f"{base}/echo-stateless/mcp",
            json=INITIALIZE,
            headers={**ACCEPT, "Authorization": f"Bearer {revoked.access('echo-stateless')}"},
        )
        jwks_after = (await http.get(f"{base}/jwks")).json()
    report(
        request.config,
        "auth restarted",
        [f"pid {pid} -> {control.pid('auth')}; 3 open sessions carried on with their tokens"],
    )
    assert replay.splitlines()[0] == "before"  # the session itself survived
    assert echoed == "after" and "UTC" in now
    assert refreshed.status_code == 200, refreshed.text
    assert still_revoked.status_code == 401
    assert jwks_after == jwks


@pytest.mark.timeout(240)
async def test_when_traefik_cannot_reach_auth_every_protected_request_is_refused(
    reliability_stack: Stack,
    control: Control,
    signed: Signed,
    access_log: AccessLog,
    request: pytest.FixtureRequest,
) -> None:
    """Auth hung (it accepts, never answers) and auth gone (connection refused)."""
    base = reliability_stack.gateway_url
    services = ("echo-stateless", "echo-stateful", "fetch", "time", "everything")
    sessions_before = stateful_sessions(reliability_stack)
    answers: dict[str, list[int]] = {}
    for state in ("hung", "gone"):
        mark = access_log.mark()
        if state == "hung":
            control.suspend("auth")
        else:
            control.kill("auth")
        try:
            async with httpx2.AsyncClient(timeout=90) as http, anyio.create_task_group() as tasks:
                got: list[int] = []

                async def one(
                    service: str, token: str | None, tag: str, into: list[int] = got
                ) -> None:
                    into.append((await probe(http, base, service, token, tag)).status_code)

                for service in services:
                    tasks.start_soon(one, service, signed.access(service), f"{state}-token")
                    tasks.start_soon(one, service, None, f"{state}-anon")
            answers[state] = got
        finally:
            if state == "hung":
                control.resume("auth")
        entries = access_log.wait_for(mark, 2 * len(services), f"probe={state}")
        assert len(entries) == 2 * len(services), entries
        assert not [e for e in entries if e.reached_a_service], entries
    await anyio.to_thread.run_sync(control.start, "auth")
    recovered = httpx2.post(
        f"{base}/echo-stateless/mcp",
        json=INITIALIZE,
        headers={**ACCEPT, "Authorization": f"Bearer {signed.access('echo-stateless')}"},
        timeout=15,
    )
    report(
        request.config,
        "auth unreachable",
        [f"{k}: statuses {sorted(v)}" for k, v in answers.items()],
    )
    for state, statuses in answers.items():
        assert len(statuses) == 2 * len(services)
        assert all(status >= 400 for status in statuses), (state, statuses)
    assert stateful_sessions(reliability_stack) == sessions_before
    assert recovered.status_code == 200


# --- a proxy child ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def tracked_session(
    url: str, token: str, **kwargs: Any
) -> AsyncIterator[tuple[Client, list[str]]]:
    """An SDK session, and the Mcp-Session-Id its server gave it."""
    ids: list[str] = []

    async def note(response: httpx2.Response) -> None:
        if (sid := response.headers.get("mcp-session-id")) and sid not in ids:
            ids.append(sid)

    async with mcp_client(url, token=token, on_response=note, **kwargs) as client:
        yield client, ids


def proxy_children(control: Control, name: str) -> set[int]:
    return {p.pid for p in psutil.Process(control.pid(name)).children()}


@pytest.mark.timeout(180)
async def test_a_killed_proxy_child_ends_its_session_cleanly_and_no_other(
    reliability_stack: Stack, control: Control, signed: Signed, request: pytest.FixtureRequest
) -> None:
    base = reliability_stack.gateway_url
    url = f"{base}/everything/mcp"
    token = signed.access("everything")
    progressed = anyio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progressed.set()

    async with contextlib.AsyncExitStack() as stack:
        existing = proxy_children(control, "everything")
        victim, victim_ids = await stack.enter_async_context(
            tracked_session(url, token, read_timeout_seconds=60)
        )
        await victim.list_tools()
        (child,) = proxy_children(control, "everything") - existing
        descendants = [child, *(p.pid for p in psutil.Process(child).children(recursive=True))]
        others = [
            (await stack.enter_async_context(mcp_client(url, token=token)), "everything")
            for _ in range(2)
        ]
        others += [
            (
                await stack.enter_async_context(
                    mcp_client(f"{base}/{service}/mcp", token=signed.access(service))
                ),
                service,
            )
            for service in ("echo-stateful", "time")
        ]
        for other, service in others:
            await check_alive(other, service, "before")

        # A call in flight when the child dies gets an error naming the reason.
        in_flight: list[BaseException] = []

        async def long_call() -> None:
            try:
                await victim.call_tool(
                    "trigger-long-running-operation",
                    {"duration": 20, "steps": 20},
                    progress_callback=on_progress,
                )
            except Exception as exc:
                in_flight.append(exc)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(long_call)
            with anyio.fail_after(30):
                await progressed.wait()
            psutil.Process(child).send_signal(signal.SIGKILL)
        (error,) = in_flight
        assert "the MCP session has ended" in str(error), repr(error)

        # The session is gone, with a clear answer; every other session carries on.
        async with httpx2.AsyncClient(timeout=15) as http:
            after = await http.post(
                url,
                json=LIST_TOOLS,
                headers={
                    **ACCEPT,
                    "Authorization": f"Bearer {token}",
                    "Mcp-Session-Id": victim_ids[0],
                    "MCP-Protocol-Version": "2025-11-25",
                },
            )
        for other, service in others:
            await check_alive(other, service, "after")
    wait_gone(descendants)
    report(
        request.config,
        "proxy child killed",
        [f"in-flight call: {str(error)[:120]}", f"next request: HTTP {after.status_code}"],
    )
    assert after.status_code == 404
    assert "session" in after.json()["error"]["message"].lower()
    assert not [p for p in descendants if psutil.pid_exists(p) and not zombie(p)]
    assert control.alive("everything")


def wait_gone(pids: list[int], timeout: float = 20) -> None:
    """A bounded wait for the proxy to reap a killed child and its descendants."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(psutil.pid_exists(p) and not zombie(p) for p in pids):
        time.sleep(0.1)


def zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def check_alive(client: Client, service: str, message: str) -> None:
    if service == "time":
        assert "UTC" in text_of(await client.call_tool("get_current_time", {"timezone": "UTC"}))
    else:
        assert message in text_of(await client.call_tool("echo", {"message": message}))
