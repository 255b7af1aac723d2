"""The CLI against the local stack: first sign-in through the consent page, refresh,
revocation, several copies at once, a registration the server forgot, RFC 7592."""

from __future__ import annotations

import stat
import time

import httpx2
from client_testkit import ClientHome

from conftest import TOKEN_LIFETIME
from scripts.stack import Stack


def echo_url(stack: Stack) -> str:
    return f"{stack.gateway_url}/echo-stateless/mcp"


def sign_in(home: ClientHome, url: str) -> None:
    done = home.run("--server-url", url, "--login")
    assert done.returncode == 0, done.stderr
    assert "Signed in" in done.stdout


def test_first_sign_in_goes_through_consent_and_keeps_credentials_private(
    stack: Stack, home: ClientHome
) -> None:
    url = echo_url(stack)
    sign_in(home, url)
    assert home.visits() == 1
    assert stat.S_IMODE(home.credentials.stat().st_mode) == 0o600
    entry = home.entry(url)
    assert entry["tokens"]["access_token"] and entry["tokens"]["refresh_token"]
    assert entry["client"]["client_id"]
    uri = entry["registration"]["registration_client_uri"]
    assert uri.startswith(f"{stack.gateway_url}/register/")
    visited = home.visits_log.read_text()
    assert "code_challenge_method=S256" in visited and "resource=" in visited

    listed = home.run("--server-url", url, "--list-tools")
    assert listed.returncode == 0, listed.stderr
    assert "echo" in listed.stdout and "authContext" in listed.stdout
    called = home.run("--server-url", url, "-c", "echo message='hello from the cli'")
    assert called.returncode == 0, called.stderr
    assert "hello from the cli" in called.stdout
    called_json = home.run("--server-url", url, "-c", 'echo {"message": "json args"}')
    assert "json args" in called_json.stdout
    assert home.visits() == 1  # the stored registration and tokens were reused


def test_an_expired_token_is_refreshed_without_the_browser(stack: Stack, home: ClientHome) -> None:
    url = echo_url(stack)
    sign_in(home, url)
    first = home.entry(url)["tokens"]
    time.sleep(TOKEN_LIFETIME + 0.5)

    status = home.run("--server-url", url, "--token")
    assert status.returncode == 0, status.stderr
    assert "Token refreshed" in status.stdout
    second = home.entry(url)["tokens"]
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]  # rotated

    # The access token alone revoked: the server says 401, a refresh is enough.
    revoked = httpx2.post(
        f"{stack.gateway_url}/revoke",
        data={
            "token": second["access_token"],
            "client_id": home.entry(url)["client"]["client_id"],
        },
    )
    assert revoked.status_code == 200
    called = home.run("--server-url", url, "-c", "echo message=after-revocation")
    assert called.returncode == 0, called.stderr
    assert "after-revocation" in called.stdout
    assert home.entry(url)["tokens"]["access_token"] != second["access_token"]
    assert home.visits() == 1


def test_a_revoked_token_leads_to_a_fresh_sign_in(stack: Stack, home: ClientHome) -> None:
    url = echo_url(stack)
    sign_in(home, url)
    entry = home.entry(url)
    client_id = entry["client"]["client_id"]
    for token in (entry["tokens"]["refresh_token"], entry["tokens"]["access_token"]):
        revoked = httpx2.post(
            f"{stack.gateway_url}/revoke", data={"token": token, "client_id": client_id}
        )
        assert revoked.status_code == 200
    called = home.run("--server-url", url, "-c", "echo message=signed-in-again")
    assert called.returncode == 0, called.stderr
    assert "signed-in-again" in called.stdout
    assert home.visits() == 2
    after = home.entry(url)
    assert after["client"]["client_id"] == client_id  # same registration, new tokens
    assert after["tokens"]["refresh_token"] != entry["tokens"]["refresh_token"]


def test_copies_started_together_share_one_browser_sign_in(stack: Stack, home: ClientHome) -> None:
    url = echo_url(stack)
    copies = [home.start("--server-url", url, "--login") for _ in range(3)]
    outcomes = [copy.communicate(timeout=120) for copy in copies]
    for copy, (out, err) in zip(copies, outcomes, strict=True):
        assert copy.returncode == 0, err
        assert "Signed in" in out
    assert home.visits() == 1
    assert len(home.stored()["servers"]) == 1


def test_a_registration_the_server_forgot_is_replaced(stack: Stack, home: ClientHome) -> None:
    url = echo_url(stack)
    sign_in(home, url)
    entry = home.entry(url)
    registration = entry["registration"]
    deleted = httpx2.delete(
        registration["registration_client_uri"],
        headers={"Authorization": f"Bearer {registration['registration_access_token']}"},
    )
    assert deleted.status_code == 204
    home.edit(url, expires_at=time.time() - 10)  # so the next call starts with a refresh

    called = home.run("--server-url", url, "-c", "echo message=registered-again")
    assert called.returncode == 0, called.stderr
    assert "registered-again" in called.stdout
    assert home.entry(url)["client"]["client_id"] != entry["client"]["client_id"]
    assert home.visits() == 2


def test_registration_management_commands(stack: Stack, home: ClientHome) -> None:
    url = echo_url(stack)
    sign_in(home, url)
    client_id = home.entry(url)["client"]["client_id"]
    registration = home.entry(url)["registration"]

    shown = home.run("--server-url", url, "--get-client-info")
    assert shown.returncode == 0, shown.stderr
    assert client_id in shown.stdout

    updated = home.run("--server-url", url, "--update-client", "client_name=renamed-laptop")
    assert updated.returncode == 0, updated.stderr
    shown = home.run("--server-url", url, "--get-client-info")
    assert "renamed-laptop" in shown.stdout

    removed = home.run("--server-url", url, "--delete-client")
    assert removed.returncode == 0, removed.stderr
    assert "client" not in home.entry(url) and "tokens" not in home.entry(url)
    gone = httpx2.get(
        registration["registration_client_uri"],
        headers={"Authorization": f"Bearer {registration['registration_access_token']}"},
    )
    assert gone.status_code in (401, 404)

    again = home.run("--server-url", url, "--get-client-info")
    assert again.returncode == 1
    assert "No registration" in again.stderr


def test_reset_auth_and_token_status(stack: Stack, home: ClientHome) -> None:
    url = echo_url(stack)
    not_yet = home.run("--server-url", url, "--token")
    assert not_yet.returncode == 1
    assert "--login" in not_yet.stderr
    sign_in(home, url)
    status = home.run("--server-url", url, "--token")
    assert status.returncode == 0 and "expires" in status.stdout
    reset = home.run("--server-url", url, "--reset-auth")
    assert reset.returncode == 0
    assert home.entry(url) == {}
