"""A handshake-era client on stdio, a 2026-07-28 server over HTTP: what the bridge translates.

Desktop clients open with `initialize` and expect a session. A 2026-07-28 server
has neither: every request carries its version, client info and capabilities in
`_meta` and mirrors its method and name into `Mcp-Method` / `Mcp-Name`. When
`server/discover` shows the server speaks such a revision, the bridge answers
`initialize` itself from the discovery and `ModernUpstream` does the rest:

- stamps every request with the envelope and the routing headers (and the
  `Mcp-Param-*` headers a listed tool asks for);
- answers what the revision dropped (`ping`, `logging/setLevel`: the level is
  then asked for per request);
- hands results back in the shape of the client's revision.

`input_required` results (the revision's way of asking the client for sampling,
elicitation or roots) are driven by the bridge, which owns the stdio side.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from mcp.shared.inbound import (
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    NAME_BEARING_METHODS,
    encode_header_value,
    find_invalid_x_mcp_header,
    mcp_param_headers,
    x_mcp_header_map,
)
from mcp.shared.message import ClientMessageMetadata, SessionMessage
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    LOG_LEVEL_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
    JSONRPCRequest,
)
from mcp_types import methods as wire
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MODERN_PROTOCOL_VERSIONS,
)
from pydantic import ValidationError

logger = logging.getLogger(__name__)

DISCOVER_ID = "mcp-streamablehttp-client/discover"
# Requests the 2026-07-28 wire dropped, answered by the bridge itself.
LOCAL_METHODS = frozenset({"ping", "logging/setLevel"})
# Client notifications have no meaning on the 2026-07-28 HTTP wire (cancellation
# is closing the request's stream, which the SDK's transport does for this one).
FORWARDED_NOTIFICATIONS = frozenset({"notifications/cancelled"})
MODERN_ONLY_RESULT_FIELDS = frozenset({"resultType", "ttlMs", "cacheScope"})


def envelope(version: str, client_info: Any, capabilities: Any) -> dict[str, Any]:
    return {
        PROTOCOL_VERSION_META_KEY: version,
        CLIENT_INFO_META_KEY: client_info,
        CLIENT_CAPABILITIES_META_KEY: capabilities,
    }


def discover_message(initialize: JSONRPCRequest) -> SessionMessage:
    """`server/discover` at the newest revision, introducing the stdio client by its own info."""
    params = initialize.params or {}
    version = MODERN_PROTOCOL_VERSIONS[-1]
    request = JSONRPCRequest(
        jsonrpc="2.0",
        id=DISCOVER_ID,
        method="server/discover",
        params={"_meta": envelope(version, params.get("clientInfo"), params.get("capabilities"))},
    )
    headers = {MCP_PROTOCOL_VERSION_HEADER: version, MCP_METHOD_HEADER: "server/discover"}
    return SessionMessage(request, metadata=ClientMessageMetadata(headers=headers))


def modern_version(discovered: Any) -> str | None:
    """The newest 2026-era revision both sides speak, or None: then the handshake it is."""
    if not isinstance(discovered, dict):
        return None
    supported = discovered.get("supportedVersions")
    if not isinstance(supported, list):
        return None
    common = [v for v in MODERN_PROTOCOL_VERSIONS if v in supported]
    return common[-1] if common else None


@dataclass
class ModernUpstream:
    version: str
    discovered: dict[str, Any]
    initialize: JSONRPCRequest
    log_level: str | None = None
    header_maps: dict[str, dict[tuple[str, ...], str]] = field(default_factory=dict)

    @property
    def _init_params(self) -> dict[str, Any]:
        return self.initialize.params or {}

    @property
    def client_version(self) -> str:
        """The handshake revision the stdio client asked for, if this bridge knows it."""
        asked = self._init_params.get("protocolVersion")
        return asked if asked in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION

    def initialize_result(self) -> dict[str, Any]:
        """The stdio client's handshake, answered from the discovery.

        Subscriptions and list_changed notifications are not offered: on this
        revision they need a `subscriptions/listen` stream the bridge does not open.
        """
        capabilities = copy.deepcopy(self.discovered.get("capabilities") or {})
        for name in ("tools", "prompts", "resources"):
            if isinstance(capabilities.get(name), dict):
                capabilities[name].pop("listChanged", None)
                capabilities[name].pop("subscribe", None)
        result: dict[str, Any] = {
            "protocolVersion": self.client_version,
            "capabilities": capabilities,
            "serverInfo": self.server_info,
        }
        if self.discovered.get("instructions"):
            result["instructions"] = self.discovered["instructions"]
        return result

    @property
    def server_info(self) -> dict[str, Any]:
        """From the discovery's `_meta` stamp (display only: a missing one is no failure)."""
        meta = self.discovered.get("_meta")
        stamp = meta.get(SERVER_INFO_META_KEY) if isinstance(meta, dict) else None
        if isinstance(stamp, dict) and isinstance(stamp.get("name"), str):
            return stamp
        return {"name": "unknown", "version": "unknown"}

    def answer_locally(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        if method == "logging/setLevel" and params and isinstance(params.get("level"), str):
            self.log_level = params["level"]
        return {}

    def stamp(self, request: JSONRPCRequest) -> SessionMessage:
        """The request with the per-request envelope and the headers the revision requires."""
        params = dict(request.params or {})
        meta = dict(params.get("_meta") or {})
        init = self._init_params
        meta.update(envelope(self.version, init.get("clientInfo"), init.get("capabilities")))
        if self.log_level is not None:
            meta.setdefault(LOG_LEVEL_META_KEY, self.log_level)
        params["_meta"] = meta
        headers = {
            MCP_PROTOCOL_VERSION_HEADER: self.version,
            MCP_METHOD_HEADER: request.method,
        }
        name_key = NAME_BEARING_METHODS.get(request.method)
        if name_key is not None and isinstance(name := params.get(name_key), str):
            headers[MCP_NAME_HEADER] = encode_header_value(name)
        if request.method == "tools/call" and isinstance(name := params.get("name"), str):
            header_map = self.header_maps.get(name)
            if header_map:
                headers.update(mcp_param_headers(header_map, params.get("arguments") or {}))
        stamped = request.model_copy(update={"params": params})
        return SessionMessage(stamped, metadata=ClientMessageMetadata(headers=headers))

    def stamp_notification(self, notification: Any) -> SessionMessage:
        headers = {MCP_PROTOCOL_VERSION_HEADER: self.version}
        return SessionMessage(notification, metadata=ClientMessageMetadata(headers=headers))

    def to_client(self, method: str, result: dict[str, Any]) -> dict[str, Any]:
        """A 2026-era result in the shape of the client's revision (unknown methods as they are)."""
        if method == "tools/list":
            result = self._absorb_tools(result)
        try:
            return wire.serialize_server_result(method, self.client_version, result)
        except (KeyError, ValueError, ValidationError):
            return {
                k: v for k, v in result.items() if k not in ("resultType", "ttlMs", "cacheScope")
            }

    def _absorb_tools(self, result: dict[str, Any]) -> dict[str, Any]:
        """Remember which arguments each tool mirrors into headers; drop tools whose
        annotations are invalid, as the revision requires of clients."""
        tools = result.get("tools")
        if not isinstance(tools, list):
            return result
        kept = []
        for tool in tools:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                continue
            schema = tool.get("inputSchema")
            if (reason := find_invalid_x_mcp_header(schema)) is not None:
                logger.warning("dropping tool %r: invalid x-mcp-header (%s)", tool["name"], reason)
                self.header_maps.pop(tool["name"], None)
                continue
            self.header_maps[tool["name"]] = x_mcp_header_map(schema)
            kept.append(tool)
        return {**result, "tools": kept}
