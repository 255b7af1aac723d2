"""Hypothesis strategies for hostile MCP traffic: JSON-RPC that is almost right.

Shared by every service's robustness tests: the shapes a confused or hostile
client sends (wrong types, missing fields, unknown methods, odd ids, batches,
deep nesting, non-JSON bytes), so each suite proves the same thing: no 5xx,
and the server still answers afterwards.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st
from mcp.shared.inbound import encode_header_value
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    PROTOCOL_VERSION_META_KEY,
)

METHODS = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "server/discover",
    "notifications/initialized",
    "notifications/cancelled",
    "no/such/method",
    "",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=12,
)
ids = st.one_of(
    st.integers(), st.text(max_size=20), st.none(), st.floats(allow_nan=False), json_values
)


@st.composite
def jsonrpc_messages(draw: st.DrawFn) -> Any:
    """A JSON value shaped like a JSON-RPC message, usually slightly wrong."""
    message: dict[str, Any] = {}
    if draw(st.booleans()) or draw(st.booleans()):
        message["jsonrpc"] = draw(st.sampled_from(["2.0", "2.0", "1.0", 2, None]))
    if draw(st.booleans()):
        message["id"] = draw(ids)
    if draw(st.integers(0, 4)) > 0:
        message["method"] = draw(st.one_of(st.sampled_from(METHODS), st.text(max_size=30)))
    if draw(st.booleans()):
        params = draw(
            st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"name": st.one_of(st.text(max_size=20), json_values)},
                    optional={"arguments": json_values, "_meta": json_values},
                ),
            )
        )
        message["params"] = params
    if draw(st.integers(0, 9)) == 0:
        message["result"] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        message["error"] = draw(json_values)
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return [message, draw(json_values)]  # a batch, itself half wrong
    if shape == 1:
        return draw(json_values)  # not a message at all
    return message


bodies = st.one_of(
    jsonrpc_messages().map(lambda m: json.dumps(m).encode()),
    st.binary(max_size=200),  # not JSON
    st.integers(1, 400).map(lambda depth: b"[" * depth + b"]" * depth),  # deep nesting
)


# --- the 2026-07-28 era: a per-request envelope in `_meta`, routing headers beside it ------

MODERN_VERSION = "2026-07-28"
NAME_KEYS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
# What the header codec produces, and a few things it never would (a broken sentinel).
_header_texts = st.one_of(
    st.text(max_size=30).map(encode_header_value),
    st.sampled_from(["=?base64?!!!?=", "=?base64?AA==?=", "=?base64??=", " padded "]).map(
        str.strip
    ),
)


@st.composite
def modern_exchanges(
    draw: st.DrawFn, tool_names: tuple[str, ...] = ("echo",)
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a 2026-07-28 request: half with a right envelope, half broken.

    The envelope (`_meta` protocol version, client info, capabilities) and the
    `Mcp-Method` / `Mcp-Name` headers that must agree with the body are what a
    modern server checks first. Half the drawn requests get them exactly right,
    so hostile names and arguments reach the handlers; the other half get some
    part of them wrong.
    """
    right = draw(st.booleans())
    method = draw(
        st.sampled_from(["tools/call", "tools/list", "server/discover", "resources/read"])
        if right
        else st.one_of(st.sampled_from(METHODS), st.text(max_size=30))
    )
    meta: dict[str, Any] = {}
    if right or draw(st.integers(0, 4)) > 0:
        meta[PROTOCOL_VERSION_META_KEY] = (
            MODERN_VERSION
            if right
            else draw(
                st.one_of(
                    st.sampled_from([MODERN_VERSION, "2025-11-25", "1999-01-01"]), json_values
                )
            )
        )
    if right or draw(st.integers(0, 4)) > 0:
        meta[CLIENT_INFO_META_KEY] = (
            {"name": "fuzz", "version": "0"}
            if right
            else draw(
                st.one_of(
                    st.fixed_dictionaries(
                        {"name": st.text(max_size=12), "version": st.text(max_size=8)}
                    ),
                    json_values,
                )
            )
        )
    if right or draw(st.integers(0, 4)) > 0:
        meta[CLIENT_CAPABILITIES_META_KEY] = {} if right else draw(json_values)
    params: dict[str, Any] = {"_meta": meta} if right or draw(st.integers(0, 9)) else {}
    name: Any = None
    key = NAME_KEYS.get(method)
    if key is not None or (not right and draw(st.booleans())):
        name = draw(
            st.one_of(st.sampled_from(tool_names), st.text(max_size=20))
            if right
            else st.one_of(st.sampled_from(tool_names), st.text(max_size=20), json_values)
        )
        params[key or "name"] = name
    if draw(st.booleans()):
        params["arguments"] = draw(json_values)
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if right or draw(st.integers(0, 9)):
        message["id"] = draw(st.integers(1, 2**31)) if right else draw(ids)
    headers = {"mcp-protocol-version": MODERN_VERSION}
    if right or draw(st.integers(0, 4)) > 0:
        headers["mcp-method"] = (
            encode_header_value(method) if right or draw(st.integers(0, 3)) else draw(_header_texts)
        )
    if name is not None and (right or draw(st.integers(0, 4)) > 0):
        headers["mcp-name"] = (
            encode_header_value(name)
            if isinstance(name, str) and (right or draw(st.integers(0, 3)))
            else draw(_header_texts)
        )
    return headers, json.dumps(message).encode()


def tool_calls(name: str, arguments: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """`tools/call` of one real tool with drawn (usually hostile) arguments, handshake era."""
    return st.builds(
        lambda request_id, args: json.dumps(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "tools/call",
                "params": {"name": name, "arguments": args},
            }
        ).encode(),
        st.integers(1, 2**31),
        arguments,
    )
