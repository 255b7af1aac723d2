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
