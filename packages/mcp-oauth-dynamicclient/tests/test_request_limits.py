"""Endpoints that read a body stop reading at their limit and answer, whatever is still coming.

Nothing in front of the OAuth routes limits bodies, so this is what keeps a
client from making the service hold a gigabyte: a raw socket streams a
chunked body of 64 MiB, and the answer must arrive before the body is done.
"""

from __future__ import annotations

import select
import socket

import httpx2
import pytest

from testsupport.authserver import AuthServer

CHUNK = b"a" * 65536
TOTAL = 64 * 1024 * 1024


def send_until_answered(base: str, path: str, content_type: str) -> tuple[bytes, int]:
    """Stream an endless-looking chunked body; the first answer line and the bytes sent by then."""
    url = httpx2.URL(base)
    with socket.create_connection((url.host, url.port or 80), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
            f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        sock.setblocking(False)
        frame = b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
        sent = 0
        pending = b""
        for _ in range(TOTAL // len(CHUNK) * 4):  # bounded: each turn sends or reads
            readable, writable, _ = select.select([sock], [sock] if sent < TOTAL else [], [], 10)
            if readable:
                answer = sock.recv(4096)
                return answer.split(b"\r\n", 1)[0], sent
            if not writable:
                break
            pending = pending or frame
            written = sock.send(pending)
            pending = pending[written:]
            sent += written
        raise AssertionError(f"no answer after sending {sent} bytes")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/register", "application/json"),
        ("/token", "application/x-www-form-urlencoded"),
        ("/revoke", "application/x-www-form-urlencoded"),
        ("/introspect", "application/x-www-form-urlencoded"),
        ("/consent", "application/x-www-form-urlencoded"),
    ],
)
def test_an_endless_body_is_answered_long_before_it_ends(
    auth: AuthServer, path: str, content_type: str
) -> None:
    status, sent = send_until_answered(auth.url, path, content_type)
    assert status == b"HTTP/1.1 400 Bad Request", status
    assert sent < TOTAL // 2, f"the service read {sent} bytes before answering"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "content_type", "message"),
    [
        ("/register", "application/json", "metadata larger than 65536 bytes"),
        ("/token", "application/x-www-form-urlencoded", "request larger than 16384 bytes"),
    ],
)
async def test_a_declared_length_over_the_limit_is_refused_clearly(
    auth: AuthServer, path: str, content_type: str, message: str
) -> None:
    async with httpx2.AsyncClient() as http:
        answer = await http.post(
            auth.url + path, content=b"x" * 200_000, headers={"content-type": content_type}
        )
    assert answer.status_code == 400
    assert answer.json()["error_description"] == message


@pytest.mark.anyio
async def test_too_many_form_fields_are_refused(auth: AuthServer) -> None:
    form = "&".join(f"f{n}=1" for n in range(500))
    async with httpx2.AsyncClient() as http:
        answer = await http.post(
            f"{auth.url}/token",
            content=form.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 400
    assert answer.json()["error_description"] == "too many form fields"
