"""Masking secrets before a diagnostic tool shows them.

Diagnostic output ends up in chat transcripts and screenshots: anything that
looks like a credential is masked by default, showing only enough to tell two
values apart.
"""

from __future__ import annotations

import re

SECRET_NAME = re.compile(
    r"secret|token|passw(or)?d|pwd|api[_-]?key|private|credential|auth|cookie|session|signature"
    r"|(^|[_-])key($|[_-])",
    re.IGNORECASE,
)
# Headers whose values are credentials whatever they are called.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def mask(value: str) -> str:
    """Keep a short prefix (a scheme like 'Bearer', or 4 characters) and the length."""
    if not value:
        return ""
    scheme, _, rest = value.partition(" ")
    if rest and scheme.isalpha() and len(scheme) <= 10:
        return f"{scheme} {mask(rest)}"
    shown = value[:4] if len(value) >= 12 else ""
    return f"{shown}…[masked, {len(value)} chars]"
