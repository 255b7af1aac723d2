"""The OpenAPI description: valid OpenAPI 3.1, served by the app, and the same routes as the app."""

from __future__ import annotations

import re

import httpx2
import pytest
import schemathesis
from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.openapi import openapi_description
from mcp_oauth_dynamicclient.server import create_app
from starlette.routing import Route

from testsupport.authserver import AuthServer

pytestmark = pytest.mark.anyio

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def described_operations(description: dict[str, object]) -> set[tuple[str, str]]:
    paths = description["paths"]
    assert isinstance(paths, dict)
    return {
        (path, method.upper())
        for path, item in paths.items()
        for method in item
        if method in METHODS
    }


def test_the_description_is_valid_openapi_3_1() -> None:
    description = openapi_description(Settings())
    assert description["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(description).validate()  # the OpenAPI 3.1 meta-schema


def test_every_route_of_the_app_is_described_and_nothing_else() -> None:
    """Starlette adds HEAD to every GET route by itself; HEAD needs describing only if asked for."""
    app = create_app(Settings())
    described = described_operations(openapi_description(Settings()))
    routed: set[tuple[str, str]] = set()
    for route in app.routes:
        assert isinstance(route, Route), f"{route!r}: describe it in openapi.py"
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # {client_id:path} -> {client_id}
        methods = set(route.methods or ())
        routed |= {(path, m) for m in methods}
        must = methods - {"HEAD"} if "GET" in methods else methods
        missing = {(path, m) for m in must} - described
        assert not missing, f"routes the description does not describe: {sorted(missing)}"
    assert described <= routed, f"described but not routed: {sorted(described - routed)}"


def test_every_operation_documents_its_errors() -> None:
    """Nothing that can fail is described as always succeeding."""
    description = openapi_description(Settings())
    for path, item in description["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert codes, (method, path)
            if path not in ("/jwks", "/openapi.json", "/.well-known/oauth-protected-resource"):
                assert codes - {"200", "201", "204"}, f"{method} {path} documents no error"
            if path in ("/register", "/authorize", "/token"):
                assert "429" in codes, f"{method} {path} is rate-limited"


async def test_the_service_serves_its_description(auth: AuthServer) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"{auth.url}/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    assert served == openapi_description(auth.settings)
    assert served["servers"] == [{"url": auth.url}]
