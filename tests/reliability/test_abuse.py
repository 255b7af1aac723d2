"""Thousands of registrations, and the per-address rate limits, through Traefik.

A stack of its own: these tests use up an address's allowance and restart the
auth service with other limits (RATE_LIMIT_REGISTER, _AUTHORIZE, _TOKEN: the
limits are configurable, and that is part of what is shown). Traefik sets
X-Forwarded-For itself, so a client's own copy cannot move it to another
address's allowance.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

import anyio
import httpx2
import pytest

from scripts.stack import Stack
from tests.reliability.harness import Control, PeakRss, mib, report
from testsupport.net import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

REGISTRATIONS = 3000
AT_ONCE = 16
AUTH_BOUND_MIB = 32  # peak RSS growth of the auth service over all of them
REDIS_BYTES_PER_CLIENT = 2048  # what one stored registration may cost in Valkey
CLIENT = {"redirect_uris": ["http://127.0.0.1:9/callback"], "client_name": "one of many"}


@pytest.fixture(scope="module")
def abuse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Control]:
    with Stack(
        gateway_port=free_port(), state_dir=tmp_path_factory.mktemp("abuse"), replicas={}
    ) as stack:
        yield Control(stack)


async def hammer(
    count: int, send: Callable[[int], Awaitable[httpx2.Response]], *, at_once: int = AT_ONCE
) -> list[httpx2.Response]:
    """`count` requests, `at_once` at a time; every answer."""
    answers: list[httpx2.Response] = []
    limiter = anyio.Semaphore(at_once)

    async def one(n: int) -> None:
        async with limiter:
            answers.append(await send(n))

    async with anyio.create_task_group() as tasks:
        for n in range(count):
            tasks.start_soon(one, n)
    return answers


@pytest.mark.timeout(300)
async def test_thousands_of_registrations_cost_bounded_memory(
    abuse: Control, request: pytest.FixtureRequest
) -> None:
    base = abuse.stack.gateway_url
    with abuse.configured("auth", {"RATE_LIMIT_REGISTER": "0"}):  # no limit: all accepted
        valkey = abuse.redis()
        used_before = int(valkey.info("memory")["used_memory"])
        async with httpx2.AsyncClient(timeout=30) as http:

            async def send(n: int) -> httpx2.Response:
                return await http.post(f"{base}/register", json={**CLIENT, "software_id": str(n)})

            with PeakRss({"auth": abuse.pid("auth"), "traefik": abuse.pid("traefik")}) as peak:
                answers = await hammer(REGISTRATIONS, send)
        used_after = int(valkey.info("memory")["used_memory"])
    statuses = Counter(a.status_code for a in answers)
    per_client = (used_after - used_before) / REGISTRATIONS
    report(
        request.config,
        "thousands of registrations",
        [
            f"{REGISTRATIONS} registrations, {AT_ONCE} at a time, no rate limit: {dict(statuses)}",
            f"Valkey used_memory {mib(used_before)} -> {mib(used_after)} "
            f"({per_client:.0f} bytes per client, bound {REDIS_BYTES_PER_CLIENT})",
            "peak RSS growth: " + ", ".join(f"{n} {mib(g)}" for n, g in peak.growth().items()),
        ],
    )
    assert statuses == {201: REGISTRATIONS}
    assert len({a.json()["client_id"] for a in answers}) == REGISTRATIONS
    assert per_client <= REDIS_BYTES_PER_CLIENT
    assert peak.growth()["auth"] <= AUTH_BOUND_MIB * 2**20, peak.growth()


@pytest.mark.timeout(300)
async def test_rate_limits_answer_429_with_retry_after_whatever_the_client_claims(
    abuse: Control, request: pytest.FixtureRequest
) -> None:
    base = abuse.stack.gateway_url
    limits = {
        "RATE_LIMIT_REGISTER": "50/3600",
        "RATE_LIMIT_AUTHORIZE": "20/3600",
        "RATE_LIMIT_TOKEN": "20/3600",
    }
    with abuse.configured("auth", limits):
        async with httpx2.AsyncClient(timeout=30) as http:

            def claimed() -> dict[str, str]:
                """A different made-up client address on every request."""
                return {"X-Forwarded-For": f"198.51.100.{secrets.randbelow(250) + 1}"}

            async def register(n: int) -> httpx2.Response:
                return await http.post(f"{base}/register", json=CLIENT, headers=claimed())

            async def authorize(n: int) -> httpx2.Response:
                return await http.get(f"{base}/authorize?client_id=x{n}", headers=claimed())

            async def token(n: int) -> httpx2.Response:
                return await http.post(
                    f"{base}/token", data={"grant_type": "refresh_token"}, headers=claimed()
                )

            with PeakRss({"auth": abuse.pid("auth")}) as peak:
                registered = await hammer(2000, register)
                authorized = await hammer(60, authorize)
                tokens = await hammer(60, token)
    figures = []
    for name, answers, limit in (
        ("/register", registered, 50),
        ("/authorize", authorized, 20),
        ("/token", tokens, 20),
    ):
        statuses = Counter(a.status_code for a in answers)
        figures.append(f"{name} ({limit}/3600 s): {dict(statuses)}")
        limited = [a for a in answers if a.status_code == 429]
        # A fixed window: a test that straddles an hour's turn sees two windows' worth.
        assert limit <= len(answers) - len(limited) <= 2 * limit, (name, statuses)
        assert all(1 <= int(a.headers["retry-after"]) <= 3600 for a in limited), name
        assert all(a.json()["error"] == "slow_down" for a in limited), name
        assert all(f"at most {limit} per 3600 s" in a.json()["error_description"] for a in limited)
    figures.append(
        "peak RSS growth: " + ", ".join(f"{n} {mib(g)}" for n, g in peak.growth().items())
    )
    report(request.config, "rate limits through Traefik", figures)
    assert {a.status_code for a in registered} == {201, 429}
    assert peak.growth()["auth"] <= AUTH_BOUND_MIB * 2**20
