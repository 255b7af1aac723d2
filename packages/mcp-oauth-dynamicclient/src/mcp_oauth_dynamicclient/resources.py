"""The protected resources of this gateway: one per MCP service, `<issuer>/<service>/mcp`."""

from __future__ import annotations

from dataclasses import dataclass

from mcp_oauth_dynamicclient.config import Settings


@dataclass(frozen=True)
class Resources:
    issuer: str
    services: tuple[str, ...]
    base_scopes: tuple[str, ...]
    required: dict[str, list[str]]

    @classmethod
    def from_settings(cls, settings: Settings) -> Resources:
        return cls(
            issuer=settings.gateway_issuer,
            services=tuple(settings.services),
            base_scopes=tuple(settings.base_scopes),
            required=settings.required_scopes,
        )

    def url(self, service: str, origin: str | None = None) -> str:
        return f"{origin or self.issuer}/{service}/mcp"

    def metadata_url(self, service: str, origin: str | None = None) -> str:
        return f"{origin or self.issuer}/.well-known/oauth-protected-resource/{service}/mcp"

    def service_of(self, resource: str) -> str | None:
        """The service a `resource` parameter names, or None if it is not ours."""
        prefix = self.issuer + "/"
        trimmed = resource.rstrip("/")
        if not trimmed.startswith(prefix) or not trimmed.endswith("/mcp"):
            return None
        service = trimmed[len(prefix) : -len("/mcp")]
        return service if service in self.services else None

    def scopes_for(self, service: str) -> list[str]:
        """What a client should ask for to use `service`."""
        return self.required.get(service) or list(self.base_scopes[:1])
