"""SSRF: a corpus of hostile URLs, each refused before any connection is made.

Two witnesses: a loopback listener that counts accepted connections (a
broken defence aiming at loopback would show up there), and a connect hook
that records every attempt and refuses all but loopback (a broken defence
aiming anywhere else is recorded, and never leaves this machine).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import anyio
import pytest
from mcp_fetch_streamablehttp_server.config import Settings
from mcp_fetch_streamablehttp_server.server import create_app
from mcp_oauth_gateway_core.resolver import SystemResolver
from starlette.applications import Starlette

from testsupport.mcp_client import mcp_client, text_of
from testsupport.processes import serve_app
from testsupport.witnesses import CountingListener, RecordingBackend, ScriptedResolver


@dataclass
class Guarded:
    url: str
    listener: CountingListener
    backend: RecordingBackend
    resolver: ScriptedResolver


@pytest.fixture(scope="module")
def guarded() -> Iterator[Guarded]:
    """The fetch server with nothing allow-listed, its resolver and connect hook observable."""
    listener = CountingListener()
    backend = RecordingBackend()
    resolver = ScriptedResolver(
        {
            # A rebinding name: public on the first lookup, loopback afterwards.
            "rebind.test": [["93.184.215.14"], ["127.0.0.1"]],
            # One public and one private answer: refused as a whole.
            "mixed.test": [["93.184.215.14", "10.0.0.7"]],
            "metadata.test": [["169.254.169.254"]],
            "ula.test": [["fd12:3456::1"]],
        },
        SystemResolver(),
    )
    settings = Settings(respect_robots=False, total_timeout=5.0)
    app = create_app(settings, resolver=resolver, network_backend=backend)
    with serve_app(app) as url:
        yield Guarded(url + "/mcp", listener, backend, resolver)
    listener.close()


def hostile_urls(port: int) -> list[str]:
    p = port
    return [
        # loopback, written every way a parser or resolver might accept
        f"http://127.0.0.1:{p}/",
        f"http://localhost:{p}/",
        f"http://LOCALHOST:{p}/",
        f"http://localhost.:{p}/",
        f"http://2130706433:{p}/",  # decimal
        f"http://0x7f000001:{p}/",  # hex
        f"http://0177.0.0.1:{p}/",  # octal
        f"http://0x7f.1:{p}/",  # mixed short form
        f"http://127.1:{p}/",  # short form
        f"http://127.0.1:{p}/",
        f"http://[::1]:{p}/",
        f"http://[0:0:0:0:0:0:0:1]:{p}/",
        f"http://[::ffff:127.0.0.1]:{p}/",  # IPv4-mapped
        f"http://[::ffff:7f00:1]:{p}/",
        f"http://[::127.0.0.1]:{p}/",  # IPv4-compatible
        f"http://[2002:7f00:1::]:{p}/",  # 6to4
        f"http://[64:ff9b::7f00:1]:{p}/",  # NAT64
        f"http://0.0.0.0:{p}/",
        f"http://0:{p}/",
        f"http://[::]:{p}/",
        # private, shared, link-local, metadata, multicast, reserved
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # CGNAT
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://192.0.0.192/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://240.0.0.1/",
        "http://[ff02::1]/",
        "http://192.0.2.1/",  # documentation range
        "http://198.18.0.1/",  # benchmarking range
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
        "http://[2002:a9fe:a9fe::]/",  # 6to4 of the metadata address
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo, embeds 192.0.2.45
        # names whose answers are private
        "http://metadata.test/",
        "http://ula.test/",
        "http://mixed.test/",
        # schemes and credentials
        "file:///etc/passwd",
        f"ftp://127.0.0.1:{p}/",
        f"gopher://127.0.0.1:{p}/",
        "http://user:secret@example.com/",
        "javascript:alert(1)",
        "data:text/plain,hello",
        "http:///no-host",
        "not a url at all",
    ]


def test_the_corpus_is_large_enough() -> None:
    assert len(hostile_urls(1)) >= 40


@pytest.mark.anyio
async def test_every_hostile_url_is_refused_before_any_connection(guarded: Guarded) -> None:
    urls = hostile_urls(guarded.listener.port)
    async with mcp_client(guarded.url) as client:
        for url in urls:
            result = await client.call_tool("fetch", {"url": url})
            assert result.is_error, url
            message = text_of(result)
            assert message and "Traceback" not in message, (url, message)
    assert guarded.listener.accepted == 0
    assert guarded.backend.attempts == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://169.254.169.254/", "cloud metadata"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://10.0.0.2/", "allow it with MCP_FETCH_ALLOWED_HOSTS or MCP_FETCH_ALLOWED_NETWORKS"),
        ("http://100.64.0.1/", "CGNAT"),
        ("http://user:secret@example.com/", "credentials"),
        ("file:///etc/passwd", "only http and https"),
        ("http://mixed.test/", "10.0.0.7"),
    ],
)
async def test_refusals_say_why(guarded: Guarded, url: str, expected: str) -> None:
    async with mcp_client(guarded.url) as client:
        result = await client.call_tool("fetch", {"url": url})
    assert result.is_error
    assert expected in text_of(result)


@pytest.mark.anyio
async def test_dns_rebinding_cannot_move_the_connection(guarded: Guarded) -> None:
    """Resolved once: the connection goes to the first (vetted) answer, never the second."""
    before = len(guarded.backend.attempts)
    async with mcp_client(guarded.url) as client:
        result = await client.call_tool("fetch", {"url": "http://rebind.test/"})
    assert result.is_error  # the hook refuses the public address: no traffic leaves
    attempts = guarded.backend.attempts[before:]
    assert attempts == [("93.184.215.14", 80)]
    assert guarded.listener.accepted == 0


def test_redirect_from_an_allowed_host_into_private_space_is_refused(
    make_site: Callable[[str | int | None], Starlette],
) -> None:
    """An allow-listed site may not bounce the fetch to loopback or metadata."""
    listener = CountingListener()
    backend = RecordingBackend()
    with serve_app(make_site(None)) as site:
        port = int(site.rsplit(":", 1)[1])
        resolver = ScriptedResolver({"site.test": [["127.0.0.1"]]}, SystemResolver())
        settings = Settings(allowed_hosts=["site.test"], respect_robots=False)
        app = create_app(settings, resolver=resolver, network_backend=backend)
        with serve_app(app) as fetch_base:

            async def run() -> list[tuple[bool, str]]:
                out = []
                async with mcp_client(fetch_base + "/mcp") as client:
                    for target in (
                        f"http://127.0.0.1:{listener.port}/",
                        "http://169.254.169.254/latest/meta-data/",
                    ):
                        url = f"http://site.test:{port}/to?url={target}"
                        result = await client.call_tool("fetch", {"url": url})
                        out.append((bool(result.is_error), text_of(result)))
                    ok = await client.call_tool(
                        "fetch", {"url": f"http://site.test:{port}/text.txt"}
                    )
                    out.append((bool(ok.is_error), text_of(ok)))
                return out

            results = anyio.run(run)
    listener.close()
    (loop_err, loop_msg), (meta_err, meta_msg), (ok_err, ok_msg) = results
    assert loop_err and "loopback" in loop_msg
    assert meta_err and "metadata" in meta_msg
    assert not ok_err and "just some plain text" in ok_msg  # the allowed host itself works
    assert listener.accepted == 0
    assert all(host == "127.0.0.1" and p == port for host, p in backend.attempts)
