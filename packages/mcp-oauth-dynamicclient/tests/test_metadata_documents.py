"""Client ID Metadata Documents, served over real TLS on loopback (a trustme CA)."""

from __future__ import annotations

import json
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from testsupport.authserver import AuthServer, run_auth_server
from testsupport.oauth_client import CLIENT_REDIRECT, pkce_pair
from testsupport.valkey import ValkeyProcess

pytestmark = pytest.mark.anyio


@dataclass
class DocumentHost:
    port: int
    hits: Counter[str]

    def url(self, name: str, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}/{name}"


@pytest.fixture(scope="module")
def document_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentHost]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    folder = tmp_path_factory.mktemp("cimd")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    hits: Counter[str] = Counter()
    documents: dict[str, tuple[bytes, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[self.path] += 1
            body, cache = documents.get(self.path, (b"", ""))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            if cache:
                self.send_header("Cache-Control", cache)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    host = DocumentHost(port, hits)

    def publish(name: str, doc: object, cache: str = "max-age=600") -> None:
        documents[f"/{name}"] = (json.dumps(doc).encode(), cache)

    base = {"redirect_uris": [CLIENT_REDIRECT], "client_name": "Document Client"}
    publish("good.json", {"client_id": host.url("good.json"), **base})
    publish("cached.json", {"client_id": host.url("cached.json"), **base})
    publish("mismatch.json", {"client_id": host.url("other.json"), **base})
    publish(
        "evil-redirect.json",
        {"client_id": host.url("evil-redirect.json"), "redirect_uris": ["http://evil.example/"]},
    )
    publish("secret.json", {"client_id": host.url("secret.json"), "client_secret": "x", **base})
    publish("huge.json", {"client_id": host.url("huge.json"), **base, "pad": "x" * 20_000})
    documents["/deep.json"] = (b"[" * 2000 + b"]" * 2000, "")  # inside the size limit
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mp = pytest.MonkeyPatch()
    mp.setenv("SSL_CERT_FILE", str(folder / "ca.pem"))
    try:
        yield host
    finally:
        mp.undo()
        server.shutdown()


@pytest.fixture
def cimd_auth(valkey_server: ValkeyProcess, document_host: DocumentHost) -> Iterator[AuthServer]:
    with run_auth_server(valkey_server.url, cimd_allowed_hosts="localhost") as server:
        yield server


async def test_a_document_client_signs_in_end_to_end(
    cimd_auth: AuthServer, document_host: DocumentHost
) -> None:
    client_id = document_host.url("good.json")
    _, challenge = pkce_pair()
    page = await cimd_auth.browser.get(cimd_auth.authorize_url(client_id, challenge))
    assert page.status_code == 200 and "Document Client" in page.text
    from testsupport.authserver import Registered

    body = {"client_id": client_id, "token_endpoint_auth_method": "none"}
    tokens = await cimd_auth.login(Registered(client_id, body))
    verified = await cimd_auth.verify(tokens["access_token"])
    assert verified.status_code == 200 and verified.headers["x-client-id"] == client_id


async def test_documents_are_cached_within_http_limits(
    cimd_auth: AuthServer, document_host: DocumentHost
) -> None:
    client_id = document_host.url("cached.json")
    _, challenge = pkce_pair()
    for _ in range(3):
        page = await cimd_auth.browser.get(cimd_auth.authorize_url(client_id, challenge))
        assert page.status_code == 200
    assert document_host.hits["/cached.json"] == 1


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("mismatch.json", "client_id must equal"),
        ("evil-redirect.json", "loopback"),
        ("secret.json", "client secret"),
        ("huge.json", "larger than"),
        ("deep.json", "not a JSON document"),
        ("missing.json", "HTTP 404"),
    ],
)
async def test_bad_documents_are_refused_with_a_clear_page(
    cimd_auth: AuthServer, document_host: DocumentHost, name: str, fragment: str
) -> None:
    _, challenge = pkce_pair()
    page = await cimd_auth.browser.get(cimd_auth.authorize_url(document_host.url(name), challenge))
    assert page.status_code == 400
    assert "location" not in page.headers
    assert fragment in page.text


async def test_private_addresses_are_never_fetched(
    cimd_auth: AuthServer, document_host: DocumentHost
) -> None:
    """127.0.0.1 is not on the allow-list (only the name localhost is): refused, not fetched."""
    before = sum(document_host.hits.values())
    _, challenge = pkce_pair()
    for url in (
        document_host.url("good.json", host="127.0.0.1"),
        "https://169.254.169.254/latest/meta-data/client.json",
        "https://10.0.0.1/client.json",
    ):
        page = await cimd_auth.browser.get(cimd_auth.authorize_url(url, challenge))
        assert page.status_code == 400 and "refused" in page.text, url
        assert "CIMD_ALLOWED_HOSTS" in page.text, "the refusal names this service's setting"
    assert sum(document_host.hits.values()) == before


async def test_plain_http_client_ids_are_not_documents(
    cimd_auth: AuthServer, document_host: DocumentHost
) -> None:
    _, challenge = pkce_pair()
    url = f"http://localhost:{document_host.port}/good.json"
    page = await cimd_auth.browser.get(cimd_auth.authorize_url(url, challenge))
    assert page.status_code == 400 and "not registered" in page.text
