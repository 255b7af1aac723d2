"""MCP 2026-07-28 requests: checked with the SDK's own ladder, translated for a pool child.

A 2026-07-28 request carries everything in itself: version, client info and
capabilities in `params._meta`, method and name mirrored in the `Mcp-Method` /
`Mcp-Name` headers. The gateway authorizes per tool from those headers, so a
request whose headers disagree with its body must never run: the SDK's
`classify_inbound_request`, `find_duplicated_routing_header` and
`validate_mcp_param_headers` decide, before anything reaches a child.

Unlike the handshake era, this path re-encodes messages: the child (a
handshake-era server the proxy initialized itself) gets the request under an
id of the proxy's own without the per-request envelope keys, and the client
gets the child's result in the 2026-07-28 shape, built the way the SDK's own
server builds it (`resultType`, `ttlMs`/`cacheScope` on cacheable methods, the
`serverInfo` stamp in `_meta`, sieved by `serialize_server_result`). The child
therefore sees exactly the message that was checked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    MCP_PARAM_HEADER_PREFIX,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
    unsupported_protocol_version_rejection,
    validate_mcp_param_headers,
)
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    CORE_RESULT_TYPES,
    LOG_LEVEL_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
)
from mcp_types import methods as spec
from mcp_types.jsonrpc import (
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    UNSUPPORTED_PROTOCOL_VERSION,
    JSONRPCNotification,
    JSONRPCRequest,
)
from mcp_types.methods import INPUT_REQUIRED_METHODS
from pydantic import ValidationError

logger = logging.getLogger("mcp_streamablehttp_proxy.modern")

# What only the 2026-07-28 wire means; a handshake-era child is not given them.
ENVELOPE_KEYS = frozenset(
    {
        PROTOCOL_VERSION_META_KEY,
        CLIENT_INFO_META_KEY,
        CLIENT_CAPABILITIES_META_KEY,
        LOG_LEVEL_META_KEY,
    }
)
DISCOVER = "server/discover"
# Methods of the revision the proxy answers itself, or cannot serve from a shared child.
REFUSED = {
    "subscriptions/listen": (
        "subscriptions/listen is not available through mcp-streamablehttp-proxy: pool "
        "children are shared, so their change notifications have no single subscriber"
    ),
}
PARAM_HEADER_PREFIX = MCP_PARAM_HEADER_PREFIX.lower()


class Refusal(Exception):
    """A request answered with a JSON-RPC error by the proxy itself; nothing reached a child."""

    def __init__(
        self,
        message: str,
        code: int = INVALID_REQUEST,
        *,
        data: Any = None,
        request_id: Any = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data
        self.request_id = request_id
        self.status = status if status is not None else ERROR_CODE_HTTP_STATUS.get(code, 400)


@dataclass(frozen=True, slots=True)
class ModernRequest:
    id: Any
    method: str
    params: dict[str, Any]
    version: str
    progress_token: Any
    capabilities: dict[str, Any] = field(default_factory=dict)  # the envelope's, for rounds

    @property
    def request_state(self) -> str | None:
        """The `requestState` a retry echoes (only the methods that may ask carry one)."""
        state = self.params.get("requestState")
        return state if self.method in INPUT_REQUIRED_METHODS and isinstance(state, str) else None

    @property
    def input_responses(self) -> Any:
        return self.params.get("inputResponses")

    def for_child(self) -> dict[str, Any]:
        """The request as a handshake-era child reads it (the pool sets id and token).

        The client's own progress token never reaches the child, even one the
        proxy does not recognise as a token (1.5, true): a child that reads it
        back as another request's token must not send that request's client
        somebody else's progress. `inputResponses` and `requestState` are
        addressed to the proxy, which minted the state, not to the child.
        """
        params = dict(self.params)
        if self.method in INPUT_REQUIRED_METHODS:
            params.pop("inputResponses", None)
            params.pop("requestState", None)
        meta = params.pop("_meta", None)
        if isinstance(meta, dict):
            dropped = ENVELOPE_KEYS | {"progressToken"}
            kept = {k: v for k, v in meta.items() if k not in dropped}
            if kept:
                params["_meta"] = kept
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": self.method}
        if params or self.method in spec.SPEC_CLIENT_METHODS:
            message["params"] = params
        return message


def unsupported_version(requested: str, supported: Sequence[str], hint: str = "") -> Refusal:
    """400 / -32022 naming what is served (the SDK's error data, so clients can pick one)."""
    rejection = unsupported_protocol_version_rejection(requested, supported)
    data = rejection.data if rejection is not None else None
    return Refusal(
        f"Unsupported MCP-Protocol-Version {requested!r}; supported: {', '.join(supported)}{hint}",
        UNSUPPORTED_PROTOCOL_VERSION,
        data=data,
    )


def classify(
    parsed: Any,
    raw_headers: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    served: Sequence[str],
) -> ModernRequest | None:
    """Check one 2026-07-28 POST body against its headers; None for a notification.

    Raises Refusal for whatever must not reach a child: a batch, a posted
    response, a malformed envelope, a duplicated or lying routing header, an
    unserved version, a method this revision does not have.
    """
    if isinstance(parsed, dict) and "id" not in parsed:
        try:
            JSONRPCNotification.model_validate(parsed)
        except ValidationError:
            raise Refusal("Invalid Request: not a JSON-RPC notification") from None
        return None
    if isinstance(parsed, list):
        raise Refusal("Invalid Request: a 2026-07-28 POST carries one message, not a batch")
    try:
        request = JSONRPCRequest.model_validate(parsed)
    except ValidationError:
        raise Refusal(
            "Invalid Request: a 2026-07-28 POST carries one JSON-RPC request or notification"
        ) from None
    duplicated = find_duplicated_routing_header(raw_headers)
    if duplicated is not None:
        raise Refusal(
            f"{duplicated} header appears more than once", HEADER_MISMATCH, request_id=request.id
        )
    verdict = classify_inbound_request(parsed, headers=headers, supported_modern_versions=served)
    if isinstance(verdict, InboundLadderRejection):
        raise Refusal(verdict.message, verdict.code, data=verdict.data, request_id=request.id)
    params = request.params or {}
    if request.method in REFUSED:
        raise Refusal(REFUSED[request.method], METHOD_NOT_FOUND, request_id=request.id)
    if request.method in spec.SPEC_CLIENT_METHODS:
        try:
            spec.validate_client_request(request.method, verdict.protocol_version, params)
        except KeyError:
            raise Refusal(
                f"Method not found: {request.method} is not part of MCP {verdict.protocol_version}",
                METHOD_NOT_FOUND,
                request_id=request.id,
            ) from None
        except ValidationError as exc:
            raise Refusal(
                f"Invalid params for {request.method}: {describe(exc)}",
                INVALID_PARAMS,
                request_id=request.id,
            ) from None
    meta = params.get("_meta")
    capabilities = meta.get(CLIENT_CAPABILITIES_META_KEY) if isinstance(meta, dict) else None
    return ModernRequest(
        id=request.id,
        method=request.method,
        params=params,
        version=verdict.protocol_version,
        progress_token=progress_token_from_params(params),
        capabilities=capabilities if isinstance(capabilities, dict) else {},
    )


def needs_param_check(request: ModernRequest, headers: Mapping[str, str]) -> str | None:
    """The tool whose schema decides the `Mcp-Param-*` headers, or None when nothing can clash."""
    if request.method != "tools/call":
        return None
    name = request.params.get("name")
    arguments = request.params.get("arguments")
    if not isinstance(name, str) or (arguments is not None and not isinstance(arguments, dict)):
        return None
    if not arguments and not any(h.startswith(PARAM_HEADER_PREFIX) for h in headers):
        return None
    return name


def check_param_headers(
    request: ModernRequest, input_schema: Any, headers: Mapping[str, str]
) -> None:
    if input_schema is None:
        return
    arguments = request.params.get("arguments") or {}
    rejection = validate_mcp_param_headers(input_schema, arguments, headers)
    if rejection is not None:
        raise Refusal(rejection.message, rejection.code, request_id=request.id)


def discover_result(
    version: str, served: Sequence[str], init_result: Mapping[str, Any]
) -> dict[str, Any]:
    """`server/discover`, answered from what the pool child said to the proxy's initialize.

    Capabilities the proxy cannot deliver to per-request clients are left
    out: change notifications and resource subscriptions (they would need a
    subscriptions/listen stream) and log messages (a shared child's log lines
    belong to no single request).
    """
    capabilities = dict(init_result.get("capabilities") or {})
    capabilities.pop("logging", None)
    for key in ("tools", "prompts", "resources"):
        if isinstance(capabilities.get(key), dict):
            capabilities[key] = {
                k: v for k, v in capabilities[key].items() if k not in ("listChanged", "subscribe")
            }
    result: dict[str, Any] = {
        "supportedVersions": list(served),
        "capabilities": capabilities,
        "ttlMs": 0,
        "cacheScope": "private",
        "resultType": "complete",
    }
    instructions = init_result.get("instructions")
    if isinstance(instructions, str):
        result["instructions"] = instructions
    info = init_result.get("serverInfo")
    if isinstance(info, dict):
        result["_meta"] = {SERVER_INFO_META_KEY: info}
    return spec.serialize_server_result(DISCOVER, version, result)


def to_client(
    message: dict[str, Any], method: str, version: str, server_info: dict[str, Any] | None
) -> dict[str, Any]:
    """A pool child's answer, in the client's id already, shaped for the 2026-07-28 wire."""
    result = message.get("result")
    if "error" in message or not isinstance(result, dict):
        if "error" in message:
            return {"jsonrpc": "2.0", "id": message.get("id"), "error": message["error"]}
        return _internal_error(message.get("id"), f"the MCP server answered {method} oddly")
    shaped = dict(result)
    if method in spec.CACHEABLE_METHODS:
        shaped.setdefault("ttlMs", 0)
        shaped.setdefault("cacheScope", "private")
    result_type = shaped.setdefault("resultType", "complete")
    if method in spec.SPEC_CLIENT_METHODS and (
        not isinstance(result_type, str) or result_type in CORE_RESULT_TYPES
    ):
        try:
            shaped = spec.serialize_server_result(method, version, shaped)
        except (ValidationError, KeyError, ValueError) as exc:
            logger.warning("%s result does not fit MCP %s: %s", method, version, describe(exc))
            return _internal_error(
                message.get("id"),
                f"the MCP server's {method} result does not fit MCP {version}",
            )
    meta = shaped.get("_meta")
    stampable = meta is None or (isinstance(meta, dict) and not meta.get(SERVER_INFO_META_KEY))
    if server_info is not None and stampable:
        shaped["_meta"] = {**(meta or {}), SERVER_INFO_META_KEY: server_info}
    return {"jsonrpc": "2.0", "id": message.get("id"), "result": shaped}


def input_request(ask: Mapping[str, Any], method: str, version: str) -> dict[str, Any]:
    """A pool child's request to its client, as one entry of an input_required result.

    Shaped (and sieved) for `version` by the SDK's own result serializer, as
    part of the `method` result that carries it; raises ValueError (or the
    validator's error) for a request that does not fit that revision.
    """
    entry: dict[str, Any] = {"method": ask.get("method")}
    if isinstance(ask.get("params"), dict):
        entry["params"] = ask["params"]
    shaped = spec.serialize_server_result(
        method, version, {"resultType": "input_required", "inputRequests": {"k": entry}}
    )
    requests = shaped.get("inputRequests")
    if not isinstance(requests, dict) or not isinstance(requests.get("k"), dict):
        raise ValueError("not an input request")
    return dict(requests["k"])


def input_required(
    request_id: Any,
    method: str,
    version: str,
    requests: dict[str, dict[str, Any]],
    state: str,
    server_info: dict[str, Any] | None,
) -> dict[str, Any]:
    """The `input_required` answer to a request whose child asks its client something."""
    result = {"resultType": "input_required", "inputRequests": requests, "requestState": state}
    return to_client(
        {"jsonrpc": "2.0", "id": request_id, "result": result}, method, version, server_info
    )


def http_status(message: Mapping[str, Any]) -> int:
    """The SDK's table: a JSON answer carrying e.g. -32601 is a 404, -32602 a 400."""
    error = message.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return ERROR_CODE_HTTP_STATUS.get(code, 200) if isinstance(code, int) else 200


def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def _internal_error(request_id: Any, message: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": INTERNAL_ERROR, "message": message},
    }


def describe(exc: Exception) -> str:
    """Where validation failed, without echoing values (they may be anyone's data)."""
    if isinstance(exc, ValidationError):
        places = [".".join(str(p) for p in e["loc"]) or "(top)" for e in exc.errors()[:3]]
        return f"{exc.error_count()} problem(s) at {', '.join(places)}"
    return type(exc).__name__
