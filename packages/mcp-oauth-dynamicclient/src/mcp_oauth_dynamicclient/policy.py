"""Per-tool policy at the gateway, decided from the MCP 2026-07-28 routing headers.

ForwardAuth sees headers, not bodies. Modern-era requests carry their method
and tool/prompt/resource name in `Mcp-Method` / `Mcp-Name`, and every MCP
service of the gateway rejects a request whose headers disagree with its body
(HTTP 400, -32020), so a decision made from the headers holds. Handshake-era
requests (2024-11-05 … 2025-11-25) carry no such headers: per service, the
policy says whether they are let in at all (default: yes, and then tool-level
rules cannot apply to them).

A request counts as modern only when its `MCP-Protocol-Version` header names
a modern revision; anything else is handshake-era, whatever other headers say.

Configuration (POLICY, JSON):

    {"services": {
        "fetch": {"rules": [{"method": "tools/call", "name": "fetch",
                             "scopes": ["mcp:fetch"]}]},
        "echo-stateless": {"handshake": "deny",
                           "rules": [{"method": "tools/call", "name": "environmentDump",
                                      "users": ["github:1001"]}]}}}

The first rule whose `method` and `name` (exact, or a shell-style pattern;
absent = any) match applies: it may require `scopes` (missing ones get 403
insufficient_scope, so clients step up), and may name the only `users`
(X-User-Id) or `clients` allowed (others get a plain 403). No matching rule:
allowed.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.shared.inbound import decode_header_value
from mcp_types.version import MODERN_PROTOCOL_VERSIONS


class PolicyError(ValueError):
    """The POLICY setting is not a policy; the message says where."""


@dataclass(frozen=True)
class Rule:
    method: str = "*"
    name: str | None = None
    scopes: tuple[str, ...] = ()
    users: tuple[str, ...] | None = None
    clients: tuple[str, ...] | None = None

    def matches(self, method: str, name: str | None) -> bool:
        if not fnmatch.fnmatchcase(method, self.method):
            return False
        return self.name is None or (name is not None and fnmatch.fnmatchcase(name, self.name))


@dataclass(frozen=True)
class ServicePolicy:
    handshake_allowed: bool = True
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    missing_scopes: tuple[str, ...] = ()
    reason: str = ""


ALLOW = Decision(True)


@dataclass(frozen=True)
class Policy:
    services: dict[str, ServicePolicy] = field(default_factory=dict)

    @classmethod
    def load(cls, inline: str, path: str) -> Policy:
        """From POLICY_FILE if set, else from POLICY."""
        if path:
            try:
                inline = Path(path).read_text()
            except OSError as exc:
                raise PolicyError(f"cannot read POLICY_FILE {path}: {exc.strerror}") from None
        return cls.parse(inline)

    def scopes(self) -> list[str]:
        found: list[str] = []
        for service in self.services.values():
            for rule in service.rules:
                found += [s for s in rule.scopes if s not in found]
        return found

    @classmethod
    def parse(cls, text: str) -> Policy:
        if not text.strip():
            return cls()
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise PolicyError(f"POLICY is not valid JSON: {exc}") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("services", {}), dict):
            raise PolicyError('POLICY must be {"services": {"<service>": {...}}}')
        return cls({name: _service(name, spec) for name, spec in raw.get("services", {}).items()})

    def decide(
        self,
        service: str,
        headers: Any,
        *,
        sub: str,
        client_id: str,
        scopes: list[str],
    ) -> Decision:
        rules = self.services.get(service)
        if rules is None:
            return ALLOW
        if headers.get("mcp-protocol-version") not in MODERN_PROTOCOL_VERSIONS:
            if rules.handshake_allowed:
                return ALLOW
            return Decision(False, reason=f"{service} accepts only MCP 2026-07-28 requests")
        method = headers.get("mcp-method") or ""
        name = decode_header_value(headers.get("mcp-name"))
        rule = next((r for r in rules.rules if r.matches(method, name)), None)
        if rule is None:
            return ALLOW
        called = f"{method} {name}" if name else method
        if rule.users is not None and sub not in rule.users:
            return Decision(False, reason=f"you may not call {called} on {service}")
        if rule.clients is not None and client_id not in rule.clients:
            return Decision(False, reason=f"this client may not call {called} on {service}")
        missing = tuple(s for s in rule.scopes if s not in scopes)
        if missing:
            return Decision(False, missing, f"{called} on {service} needs {' '.join(missing)}")
        return ALLOW


def _strings(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where} must be a list of strings")
    return tuple(value)


def _service(name: str, spec: Any) -> ServicePolicy:
    if not isinstance(spec, dict):
        raise PolicyError(f"POLICY services.{name} must be an object")
    handshake = spec.get("handshake", "allow")
    if handshake not in ("allow", "deny"):
        raise PolicyError(f'POLICY services.{name}.handshake must be "allow" or "deny"')
    rules = []
    for n, item in enumerate(spec.get("rules", [])):
        where = f"POLICY services.{name}.rules[{n}]"
        if not isinstance(item, dict):
            raise PolicyError(f"{where} must be an object")
        if unknown := set(item) - {"method", "name", "scopes", "users", "clients"}:
            raise PolicyError(f"{where} has unknown keys {sorted(unknown)}")
        rules.append(
            Rule(
                method=str(item.get("method", "*")),
                name=str(item["name"]) if "name" in item else None,
                scopes=_strings(f"{where}.scopes", item.get("scopes", [])),
                users=_strings(f"{where}.users", item["users"]) if "users" in item else None,
                clients=_strings(f"{where}.clients", item["clients"])
                if "clients" in item
                else None,
            )
        )
    return ServicePolicy(handshake_allowed=handshake == "allow", rules=tuple(rules))
