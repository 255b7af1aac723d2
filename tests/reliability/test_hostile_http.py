"""Hostile HTTP through the gateway: oversized bodies, slow-drip bodies, header floods.

Each gets an answer that says what is wrong (or, for a slow but complete
request, the right answer), nothing reaches a service it should not, other
clients are served meanwhile, and no process's memory grows by more than
BOUND_MIB while it happens (sampled every 20 ms, so a body buffered whole and
then freed would show).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import anyio
import httpx2
import pytest

from scripts.stack import Stack
from tests.reliability.harness import AccessLog, Control, PeakRss, Signed, mib, report
from testsupport.mcp_client import mcp_client, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

BOUND_MIB = 64
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
WATCHED = ("traefik", "auth", "echo-stateless", "echo-stateful", "fetch", "time", "everything")


def echo_call(message: str, request_id: int = 1) -> bytes:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": message}},
        }
    ).encode()


async def expect_continue(
    port: int, path: str, body: bytes, token: str | None
) -> tuple[int, bytes]:
    """POST as curl does a large body: send the headers, the body only after 100 Continue.

    The final status and the answer's head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n"
        )
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        writer.write(head.encode() + b"\r\n")
        await writer.drain()
        answer = await reader.readuntil(b"\r\n\r\n")
        if answer.startswith(b"HTTP/1.1 100"):
            writer.write(body)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            answer = await reader.readuntil(b"\r\n\r\n")
        return int(answer.split(b" ", 2)[1]), answer
    finally:
        writer.close()


def within_bound(peak: PeakRss) -> dict[str, int]:
    return {name: grew for name, grew in peak.growth().items() if grew > BOUND_MIB * 2**20}


async def test_oversized_bodies_are_refused_clearly_with_bounded_memory(
    reliability_stack: Stack,
    control: Control,
    signed: Signed,
    access_log: AccessLog,
    request: pytest.FixtureRequest,
) -> None:
    base = reliability_stack.gateway_url
    two_mib = echo_call("x" * (2 * 2**20))
    five_mib = echo_call("x" * (5 * 2**20))
    twenty_mib = b'{"redirect_uris": ["' + b"x" * (20 * 2**20) + b'"]}'
    mark = access_log.mark()
    with PeakRss({name: control.pid(name) for name in WATCHED}) as peak:
        async with httpx2.AsyncClient(timeout=60) as http:

            async def post(
                path: str, body: bytes, token: str | None, **extra: str
            ) -> httpx2.Response:
                headers = {**ACCEPT, **extra}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                return await http.post(f"{base}{path}?oversized", content=body, headers=headers)

            # Past a service's own limit (1 MiB for the echo servers): 413 and a JSON-RPC reason.
            service_limit = {
                name: await post(f"/{name}/mcp", two_mib, signed.access(name))
                for name in ("echo-stateless", "echo-stateful")
            }
            # Past 4 MiB (every MCP service's limit): /verify lets the token through (it never
            # sees bodies) and each service refuses it with a 413 ...
            past_every_limit = {
                name: await post(f"/{name}/mcp", five_mib, signed.access(name))
                for name in ("echo-stateless", "echo-stateful", "fetch", "time", "everything")
            }
            # ... without a token it never gets that far (a client that waits for 100 Continue
            # sends no body at all) ...
            anonymous = {
                name: await expect_continue(
                    reliability_stack.gateway_port, f"/{name}/mcp?oversized", five_mib, None
                )
                for name in ("echo-stateless", "fetch", "everything")
            }
            # ... and with a token, such a client is refused like any other.
            expecting = await expect_continue(
                reliability_stack.gateway_port,
                "/echo-stateless/mcp?oversized",
                five_mib,
                signed.access("echo-stateless"),
            )
            # The OAuth routes have no limit in front: the service reads up to its own, no further.
            register = await post("/register", twenty_mib, None)
            token = await post(
                "/token",
                b"grant_type=refresh_token&refresh_token=" + b"x" * (20 * 2**20),
                None,
                **{"Content-Type": "application/x-www-form-urlencoded"},
            )
    report(
        request.config,
        "oversized bodies",
        [
            f"2 MiB to the echo servers: {[r.status_code for r in service_limit.values()]}",
            f"5 MiB with a token: {[r.status_code for r in past_every_limit.values()]}, "
            f"without: {[status for status, _ in anonymous.values()]}, with a token waiting for "
            f"100 Continue: {expecting[0]}",
            f"20 MiB to /register, /token: {register.status_code}, {token.status_code}",
            "peak RSS growth: " + ", ".join(f"{n} {mib(g)}" for n, g in peak.growth().items()),
        ],
    )
    for name, answer in service_limit.items():
        assert answer.status_code == 413, (name, answer.text[:200])
        assert "larger than 1048576 bytes" in answer.json()["error"]["message"]
    for name, answer in past_every_limit.items():
        assert answer.status_code == 413, (name, answer.status_code, answer.text[:200])
        assert "large" in answer.text.lower(), (name, answer.text[:200])  # says what is wrong
    for name, (status, head) in anonymous.items():
        assert status == 401, (name, status)
        assert b"resource_metadata" in head
    assert expecting[0] == 413
    log = [e for e in access_log.since(mark) if "oversized" in e.uri]
    assert len(log) == len(service_limit) + len(past_every_limit) + len(anonymous) + 3
    assert not [e for e in log if e.status == 401 and e.reached_a_service], log
    assert all(e.status in (400, 401, 413) for e in log), log
    assert register.status_code == 400
    assert register.json()["error_description"] == "metadata larger than 65536 bytes"
    assert token.status_code == 400
    assert token.json()["error_description"] == "request larger than 16384 bytes"
    assert not within_bound(peak), peak.growth()


async def drip(
    port: int,
    path: str,
    body: bytes,
    headers: dict[str, str],
    *,
    pieces: int,
    pause: float,
    abandon: bool = False,
) -> bytes:
    """Send a request whose body arrives in `pieces` over a while; the raw answer (or b'')."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode())
        size = -(-len(body) // pieces)
        for n, start in enumerate(range(0, len(body), size)):
            if abandon and n == pieces // 2:
                return b""
            writer.write(body[start : start + size])
            await writer.drain()
            await anyio.sleep(pause)
        return await reader.read()
    finally:
        writer.close()


@pytest.mark.timeout(180)
async def test_slow_drip_bodies_hold_no_one_up(
    reliability_stack: Stack, control: Control, signed: Signed, request: pytest.FixtureRequest
) -> None:
    """Traefik has no read timeout (SSE streams are long), so a slow body is answered when it is
    complete; meanwhile everyone else is served, and nothing piles up."""
    base = reliability_stack.gateway_url
    port = reliability_stack.gateway_port
    token = signed.access("echo-stateless")
    mcp_headers = {**ACCEPT, "Authorization": f"Bearer {token}"}
    json_headers = {"Content-Type": "application/json"}
    registration = json.dumps({"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "drip"})
    answers: dict[str, list[bytes]] = {"mcp": [], "register": [], "abandoned": []}
    served, failed = 0, []
    done = anyio.Event()

    async def one(kind: str, n: int) -> None:
        if kind == "mcp":
            raw = await drip(
                port,
                "/echo-stateless/mcp",
                echo_call(f"drip-{n}" + "." * 300, n),
                mcp_headers,
                pieces=20,
                pause=0.25,
            )
        elif kind == "register":
            raw = await drip(
                port, "/register", registration.encode(), json_headers, pieces=20, pause=0.25
            )
        else:
            raw = await drip(
                port,
                "/echo-stateless/mcp",
                echo_call("gone"),
                mcp_headers,
                pieces=20,
                pause=0.25,
                abandon=True,
            )
        answers[kind].append(raw)

    async def meanwhile() -> None:
        nonlocal served
        async with mcp_client(
            f"{base}/echo-stateful/mcp", token=signed.access("echo-stateful")
        ) as c:
            while not done.is_set():
                try:
                    assert text_of(await c.call_tool("echo", {"message": "fast"})) == "fast"
                    served += 1
                except Exception as exc:
                    failed.append(repr(exc))
                await anyio.sleep(0.1)

    with PeakRss({name: control.pid(name) for name in WATCHED}) as peak:
        async with anyio.create_task_group() as outer:
            outer.start_soon(meanwhile)
            async with anyio.create_task_group() as drips:
                for n in range(30):
                    drips.start_soon(one, "mcp", n)
                for n in range(15):
                    drips.start_soon(one, "register", n)
                for n in range(10):
                    drips.start_soon(one, "abandoned", n)
            done.set()
    report(
        request.config,
        "slow-drip bodies",
        [
            f"30 MCP calls and 15 registrations dripped over ~5 s each, 10 abandoned halfway; "
            f"{served} other calls served meanwhile, {len(failed)} failed",
            "peak RSS growth: " + ", ".join(f"{n} {mib(g)}" for n, g in peak.growth().items()),
        ],
    )
    assert len(answers["mcp"]) == 30 and len(answers["register"]) == 15
    for raw in answers["mcp"]:
        status, _, rest = raw.partition(b"\r\n")
        assert status == b"HTTP/1.1 200 OK", raw[:300]
        assert b"drip-" in rest
    for raw in answers["register"]:
        assert raw.startswith(b"HTTP/1.1 201 Created"), raw[:300]
    assert failed == [] and served > 0
    assert not within_bound(peak), peak.growth()
    assert not reliability_stack.failed()


async def test_header_floods_are_refused_at_the_edge_or_answered_normally(
    reliability_stack: Stack, control: Control, signed: Signed, request: pytest.FixtureRequest
) -> None:
    base = reliability_stack.gateway_url
    token = {"Authorization": f"Bearer {signed.access('echo-stateless')}"}
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    huge = {f"X-Flood-{n}": "f" * 5000 for n in range(300)}  # 1.5 MB: past Traefik's 1 MiB
    many = {f"X-Many-{n}": "m" * 20 for n in range(5000)}  # 5000 headers, about 150 KB
    with PeakRss({name: control.pid(name) for name in WATCHED}) as peak:
        async with httpx2.AsyncClient(timeout=60) as http:
            edge = [
                await http.post(
                    f"{base}/echo-stateless/mcp", json=listing, headers={**ACCEPT, **token, **huge}
                ),
                await http.post(f"{base}/register", json={}, headers=huge),
                await http.get(f"{base}/health", headers=huge),
            ]
            answered = [
                await http.post(
                    f"{base}/echo-stateless/mcp", json=listing, headers={**ACCEPT, **token, **many}
                )
                for _ in range(20)
            ]
            anonymous = await http.post(
                f"{base}/echo-stateless/mcp", json=listing, headers={**ACCEPT, **many}
            )
            registered = await http.post(
                f"{base}/register", json={"redirect_uris": ["http://127.0.0.1:9/cb"]}, headers=many
            )
    report(
        request.config,
        "header floods",
        [
            f"1.5 MB of headers: {[r.status_code for r in edge]}; 5000 headers: "
            f"{sorted({r.status_code for r in answered})} with a token, "
            f"{anonymous.status_code} without, {registered.status_code} at /register",
            "peak RSS growth: " + ", ".join(f"{n} {mib(g)}" for n, g in peak.growth().items()),
        ],
    )
    assert [r.status_code for r in edge] == [431, 431, 431]
    assert all(r.status_code == 200 and len(r.json()["result"]["tools"]) == 9 for r in answered)
    assert (
        anonymous.status_code == 401
        and "resource_metadata" in anonymous.headers["www-authenticate"]
    )
    assert registered.status_code == 201
    assert not within_bound(peak), peak.growth()
