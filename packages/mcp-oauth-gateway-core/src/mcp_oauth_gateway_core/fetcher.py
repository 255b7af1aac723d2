"""One fetch: resolve, vet, connect to the vetted address, follow vetted redirects.

Everything that can go wrong ends in FetchError with a message safe to show
to the model; nothing is retried, and the total deadline covers redirects
and a body that arrives a byte at a time.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

import anyio
import httpx2
from httpcore2 import AsyncNetworkBackend

from mcp_oauth_gateway_core.pinned import PinnedTransport
from mcp_oauth_gateway_core.resolver import Resolver
from mcp_oauth_gateway_core.ssrf import AddressPolicy, AddressRefused


class FetchError(Exception):
    """A fetch that did not succeed; the message is meant for the caller."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 102_400
    connect_timeout: float = 5.0
    total_timeout: float = 20.0
    max_redirects: int = 5


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes
    truncated: bool
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names


def checked_url(raw: str) -> httpx2.URL:
    try:
        url = httpx2.URL(raw)
    except (httpx2.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError(f"not a valid URL: {raw!r} ({exc})") from None
    if url.scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs are fetched, not {url.scheme or 'none'}:")
    if url.userinfo:
        raise FetchError("URLs with credentials (user:password@) are refused")
    if not url.host:
        raise FetchError(f"the URL {raw!r} names no host")
    return url


class SafeFetcher:
    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver,
        limits: Limits,
        user_agent: str,
        network_backend: AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.limits = limits
        self.user_agent = user_agent
        self.network_backend = network_backend  # tests observe or refuse connects here
        # Loading the CA bundle costs tens of milliseconds: once, not per fetch.
        self.ssl_context = ssl.create_default_context()

    async def get(self, raw_url: str, *, max_bytes: int | None = None) -> Fetched:
        try:
            with anyio.fail_after(self.limits.total_timeout):
                return await self._follow(raw_url, max_bytes or self.limits.max_bytes)
        except TimeoutError:
            raise FetchError(
                f"gave up after {self.limits.total_timeout:g} s (the total time limit)"
            ) from None

    async def _follow(self, raw_url: str, max_bytes: int) -> Fetched:
        url = checked_url(raw_url)
        for _hop in range(self.limits.max_redirects + 1):
            response = await self._one(url, max_bytes)
            if isinstance(response, httpx2.URL):
                url = response
                continue
            return response
        raise FetchError(f"more than {self.limits.max_redirects} redirects")

    async def _one(self, url: httpx2.URL, max_bytes: int) -> Fetched | httpx2.URL:
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            vetted = self.policy.vet(host, await self.resolver.resolve(host, port))
        except AddressRefused as exc:
            raise FetchError(str(exc)) from None
        timeout = httpx2.Timeout(self.limits.total_timeout, connect=self.limits.connect_timeout)
        transport = PinnedTransport({host: vetted[0]}, self.ssl_context, self.network_backend)
        headers = {"user-agent": self.user_agent, "accept-encoding": "identity"}
        try:
            async with (
                httpx2.AsyncClient(transport=transport, timeout=timeout, headers=headers) as client,
                client.stream("GET", url, follow_redirects=False) as response,
            ):
                if response.is_redirect and "location" in response.headers:
                    try:
                        return checked_url(str(url.join(response.headers["location"])))
                    except FetchError as exc:
                        raise FetchError(f"refused redirect from {url}: {exc}") from None
                encoding = response.headers.get("content-encoding", "identity").lower()
                if encoding not in ("identity", ""):
                    raise FetchError(f"the server sent {encoding}-encoded content; refused")
                body = bytearray()
                truncated = False
                async for chunk in response.aiter_raw():
                    body += chunk
                    if len(body) > max_bytes:
                        del body[max_bytes:]
                        truncated = True
                        break
                content_type = response.headers.get("content-type", "")
                return Fetched(
                    url=str(url),
                    status=response.status_code,
                    content_type=content_type.split(";")[0].strip().lower(),
                    charset=response.charset_encoding,
                    body=bytes(body),
                    truncated=truncated,
                    headers={k.lower(): v for k, v in response.headers.items()},
                )
        except httpx2.ConnectTimeout:
            raise FetchError(
                f"could not connect to {host} within {self.limits.connect_timeout:g} s"
            ) from None
        except httpx2.HTTPError as exc:
            raise FetchError(f"fetching {url} failed: {exc or type(exc).__name__}") from None
        except OSError as exc:
            raise FetchError(f"could not connect to {host}: {exc}") from None
