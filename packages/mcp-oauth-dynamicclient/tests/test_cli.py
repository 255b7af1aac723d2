"""The operator's CLI, run as a real process against the same Valkey as the service."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NamedTuple

import anyio
import pytest

from testsupport.authserver import AuthServer, redis_commands, run_auth_server
from testsupport.valkey import ValkeyProcess

pytestmark = pytest.mark.anyio


class Completed(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


async def cli(auth: AuthServer, *args: str) -> Completed:
    exe = shutil.which("mcp-oauth-server")
    assert exe, "console script not installed: run `just setup`"
    env = {
        **os.environ,
        "REDIS_URL": auth.settings.redis_url,
        "REDIS_KEY_PREFIX": auth.settings.redis_key_prefix,
        "GATEWAY_ISSUER": auth.settings.gateway_issuer,
        "COLUMNS": "200",
    }
    done = await anyio.run_process([exe, *args], env=env, check=False)
    return Completed(done.returncode, done.stdout.decode(), done.stderr.decode())


async def test_clients_list_show_delete(auth: AuthServer) -> None:
    client = await auth.register(client_name="Listed App")
    tokens = await auth.login(client)
    listed = await cli(auth, "clients", "list")
    assert listed.returncode == 0 and client.client_id in listed.stdout
    assert "Listed App" in listed.stdout
    shown = await cli(auth, "clients", "show", client.client_id)
    assert shown.returncode == 0 and "Listed App" in shown.stdout
    assert "digest" not in shown.stdout
    deleted = await cli(auth, "clients", "delete", client.client_id)
    assert deleted.returncode == 0, deleted.stderr
    assert (await auth.verify(tokens["access_token"])).status_code == 401
    assert (await cli(auth, "clients", "show", client.client_id)).returncode == 1


async def test_tokens_revoke_by_user_and_by_token(auth: AuthServer) -> None:
    """The CLI is another process: the running server learns of its revocations from their
    announcements, and answers /verify from memory without asking Redis."""
    client = await auth.register()
    first = await auth.login(client)
    second = await auth.login(client)
    await auth.wait_mirrored()
    by_token = await cli(auth, "tokens", "revoke", "--token", first["access_token"])
    assert by_token.returncode == 0, by_token.stderr
    before = redis_commands(auth.settings.redis_url)
    assert (await auth.verify(first["access_token"])).status_code == 401
    assert (await auth.verify(second["access_token"])).status_code == 200
    by_user = await cli(auth, "tokens", "revoke", "--user", "github:1001")
    assert by_user.returncode == 0
    assert (await auth.verify(second["access_token"])).status_code == 401
    assert (redis_commands(auth.settings.redis_url) - before)["mget"] == 0


async def test_generated_keys_sign_and_rotation_keeps_old_tokens_valid(
    valkey_server: ValkeyProcess, tmp_path: Path
) -> None:
    old_key, new_key = tmp_path / "old.pem", tmp_path / "new.pem"
    exe = shutil.which("mcp-oauth-server")
    assert exe
    for path in (old_key, new_key):
        made = await anyio.run_process([exe, "keys", "generate", "--out", str(path)])
        assert made.returncode == 0
        assert path.stat().st_mode & 0o777 == 0o600
    with run_auth_server(valkey_server.url, jwt_private_key_file=str(old_key)) as auth:
        client = await auth.register()
        tokens = await auth.login(client)
        port, prefix = int(auth.url.rsplit(":", 1)[1]), auth.settings.redis_key_prefix
    with run_auth_server(
        valkey_server.url,
        port=port,
        redis_key_prefix=prefix,
        jwt_private_key_file=str(new_key),
        jwt_previous_key_files=str(old_key),
    ) as rotated:
        assert (await rotated.verify(tokens["access_token"])).status_code == 200
        fresh = await rotated.login(client)
        assert fresh["access_token"].split(".")[0] != tokens["access_token"].split(".")[0]
        import httpx2

        async with httpx2.AsyncClient() as http:
            keys = (await http.get(f"{rotated.url}/jwks")).json()["keys"]
        assert len(keys) == 2
    with run_auth_server(
        valkey_server.url, port=port, redis_key_prefix=prefix, jwt_private_key_file=str(new_key)
    ) as retired:
        assert (await retired.verify(tokens["access_token"])).status_code == 401


async def test_revoking_a_client_spares_the_tokens_it_gets_afterwards(auth: AuthServer) -> None:
    client = await auth.register()
    before = await auth.login(client)
    await anyio.sleep(1.1)  # iat has one-second resolution
    revoked = await cli(auth, "tokens", "revoke", "--client", client.client_id)
    assert revoked.returncode == 0, revoked.stderr
    assert (await auth.verify(before["access_token"])).status_code == 401
    await anyio.sleep(1.1)
    after = await auth.login(client)
    assert (await auth.verify(after["access_token"])).status_code == 200


async def test_operator_mistakes_get_a_line_not_a_traceback(auth: AuthServer) -> None:
    garbage = await cli(auth, "tokens", "revoke", "--token", "garbage")
    assert garbage.returncode == 1
    assert "not a token of this gateway" in garbage.stdout
    assert "Traceback" not in garbage.stdout + garbage.stderr
    exe = shutil.which("mcp-oauth-server")
    assert exe
    down = await anyio.run_process(
        [exe, "clients", "list"],
        env={**os.environ, "REDIS_URL": "redis://127.0.0.1:9/0"},
        check=False,
    )
    assert down.returncode == 1
    assert b"cannot reach Redis" in down.stdout
    assert b"Traceback" not in down.stdout + down.stderr
