"""The revocation mirror: /verify answers from memory, and never from a stale one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil
import pytest

from testsupport.authserver import AuthServer, redis_commands, run_auth_server
from testsupport.valkey import ValkeyProcess

pytestmark = pytest.mark.anyio


@pytest.fixture
def own_valkey(tmp_path: Path) -> Iterator[ValkeyProcess]:
    """A Valkey of the test's own: these tests stop, restart and freeze it."""
    valkey = ValkeyProcess(tmp_path / "valkey").start()
    try:
        yield valkey
    finally:
        valkey.stop()


async def _revoked_and_kept(auth: AuthServer) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two token responses of one client; the first one's access token revoked (RFC 7009)."""
    client = await auth.register()
    revoked, kept = await auth.login(client), await auth.login(client)
    async with httpx2.AsyncClient() as http:
        answer = await http.post(
            f"{auth.url}/revoke",
            data={"token": revoked["access_token"], "client_id": client.client_id},
        )
    assert answer.status_code == 200
    return revoked, kept


async def test_verify_asks_redis_nothing_once_mirrored(auth: AuthServer) -> None:
    revoked, kept = await _revoked_and_kept(auth)
    await auth.wait_mirrored()
    before = redis_commands(auth.settings.redis_url)
    answers = [(await auth.verify(t["access_token"])).status_code for t in [kept, revoked] * 10]
    spent = redis_commands(auth.settings.redis_url) - before
    assert answers == [200, 401] * 10
    # At most the subscription's PING and the handshake of the connection that counts.
    assert not set(spent) - {"ping", "hello", "client|setinfo"}, spent


async def test_a_server_started_later_loads_what_was_revoked(own_valkey: ValkeyProcess) -> None:
    with run_auth_server(own_valkey.url) as first:
        revoked, kept = await _revoked_and_kept(first)
    port = int(first.url.rsplit(":", 1)[1])
    prefix = first.settings.redis_key_prefix
    with run_auth_server(own_valkey.url, port=port, redis_key_prefix=prefix) as second:
        await second.wait_mirrored()
        before = redis_commands(own_valkey.url)
        assert (await second.verify(revoked["access_token"])).status_code == 401
        assert (await second.verify(kept["access_token"])).status_code == 200
        assert (redis_commands(own_valkey.url) - before)["mget"] == 0


async def test_valkey_gone_is_a_503_at_once_and_the_mirror_returns(
    own_valkey: ValkeyProcess,
) -> None:
    with run_auth_server(own_valkey.url) as auth:
        revoked, kept = await _revoked_and_kept(auth)
        await auth.wait_mirrored()
        own_valkey.stop()
        # The very next request: the mirror knows its connection is gone.
        answer = await auth.verify(kept["access_token"])
        assert answer.status_code == 503, answer.text
        assert not await auth.mirrored()
        own_valkey.start()  # same port and data: the revocation is still in Redis
        await auth.wait_mirrored()
        assert (await auth.verify(revoked["access_token"])).status_code == 401
        assert (await auth.verify(kept["access_token"])).status_code == 200


async def test_a_silent_valkey_stops_the_mirror_within_seconds(own_valkey: ValkeyProcess) -> None:
    """A hung Redis (or a partition that sends no reset): PING goes unanswered, so /verify
    stops trusting memory and asks Redis, which fails closed."""
    with run_auth_server(own_valkey.url) as auth:
        client = await auth.register()
        tokens = await auth.login(client)
        await auth.wait_mirrored()
        frozen = psutil.Process(own_valkey.pid)
        frozen.suspend()
        try:
            assert (await auth.verify(tokens["access_token"])).status_code == 200
            statuses = []
            for _ in range(20):  # PING every 5 s: given up within two rounds
                statuses.append((await auth.verify(tokens["access_token"])).status_code)
                if statuses[-1] == 503:
                    break
                await anyio.sleep(1)
            assert statuses[-1] == 503, statuses
            assert set(statuses) <= {200, 503}, statuses
        finally:
            frozen.resume()
        await auth.wait_mirrored()
        assert (await auth.verify(tokens["access_token"])).status_code == 200
