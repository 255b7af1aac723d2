"""Client ID Metadata Documents (MCP 2025-11-25): a client_id that is an https URL.

The document is fetched by the shared SSRF-safe fetcher (every address
vetted, the connection pinned to it, no redirects), so a client_id
cannot be used to make the gateway call into its own network. The document
must name itself as client_id, and its redirect URIs follow the same rules
as a registration. Documents are cached in Redis within HTTP cache limits.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from mcp_oauth_gateway_core.fetcher import FetchError, Limits, SafeFetcher
from mcp_oauth_gateway_core.resolver import Resolver, SystemResolver
from mcp_oauth_gateway_core.ssrf import AddressPolicy

from mcp_oauth_dynamicclient.client_metadata import validate_client_metadata
from mcp_oauth_dynamicclient.config import Settings, split_list
from mcp_oauth_dynamicclient.errors import OAuthError
from mcp_oauth_dynamicclient.storage import Store, digest

log = logging.getLogger(__name__)

DEFAULT_CACHE_SECONDS = 300
MIN_CACHE_SECONDS = 60
USER_AGENT = "mcp-oauth-dynamicclient (client metadata document fetch)"


def is_metadata_document_url(client_id: str) -> bool:
    return client_id.startswith("https://")


def _invalid(description: str) -> OAuthError:
    return OAuthError("invalid_client", f"client metadata document: {description}", 400)


def cache_seconds(cache_control: str, ceiling: int) -> int:
    """How long HTTP lets us keep the document (0 = not at all), within [60 s, ceiling]."""
    directives = {part.strip().lower() for part in cache_control.split(",")}
    if "no-store" in directives:
        return 0
    match = re.search(r"max-age\s*=\s*(\d+)", cache_control, re.IGNORECASE)
    wanted = int(match.group(1)) if match else DEFAULT_CACHE_SECONDS
    if "no-cache" in directives or wanted == 0:
        return 0
    return max(MIN_CACHE_SECONDS, min(wanted, ceiling))


class MetadataDocuments:
    def __init__(self, settings: Settings, store: Store, resolver: Resolver | None = None) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = SafeFetcher(
            AddressPolicy.from_settings(
                split_list(settings.cimd_allowed_hosts),
                split_list(settings.cimd_allowed_networks),
                allow_with="CIMD_ALLOWED_HOSTS or CIMD_ALLOWED_NETWORKS",
            ),
            resolver or SystemResolver(),
            Limits(
                max_bytes=settings.cimd_max_bytes,
                connect_timeout=settings.cimd_timeout,
                total_timeout=settings.cimd_timeout,
                max_redirects=0,
            ),
            USER_AGENT,
        )

    async def load(self, client_id: str) -> dict[str, Any]:
        """The validated metadata of a document client, or OAuthError(invalid_client)."""
        cached = await self.store.get_json("cimd", digest(client_id))
        if cached is not None:
            return cached
        parts = urlsplit(client_id)
        if parts.scheme != "https" or not parts.hostname or parts.path in ("", "/"):
            raise _invalid("the client_id must be an https URL with a path")
        if parts.fragment or parts.username or parts.password:
            raise _invalid("the client_id URL must not carry a fragment or credentials")
        try:
            page = await self.fetcher.get(client_id)
        except FetchError as exc:
            log.info("client metadata document %s refused: %s", client_id, exc)
            raise _invalid(f"could not be fetched: {exc}") from None
        if page.status != 200:
            raise _invalid(f"{client_id} answered HTTP {page.status}")
        if page.truncated:
            raise _invalid(f"larger than {self.settings.cimd_max_bytes} bytes")
        try:
            document = json.loads(page.body)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            raise _invalid("not a JSON document") from None
        if not isinstance(document, dict) or document.get("client_id") != client_id:
            raise _invalid("its client_id must equal the URL it was fetched from")
        if any(k in document for k in ("client_secret", "client_secret_expires_at")):
            raise _invalid("a metadata document must not carry a client secret")
        try:
            metadata = validate_client_metadata(
                {"token_endpoint_auth_method": "none", **document},
                scopes_supported=self.settings.all_scopes,
                allow_secret_methods=False,
            )
        except OAuthError as exc:
            raise _invalid(exc.description) from None
        ttl = cache_seconds(
            page.headers.get("cache-control", ""), self.settings.cimd_max_cache_seconds
        )
        if ttl:
            await self.store.set_json(metadata, "cimd", digest(client_id), ttl=ttl)
        return metadata
