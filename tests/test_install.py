"""Every package installs with plain pip from its folder, as the README says, and serves.

For each of the six, in a fresh virtual environment (`python -m venv`, real pip,
this machine's pip configuration as CI has it), the README's one command for
that package; then `pip list` shows our version of each package of ours the
command names and no other of ours (none of the same-named releases of another
project on PyPI), every module of ours imports, `--version` prints the version,
the servers answer /health and the client `--help`. Bad input: a package
installed without the shared library it pins fails at install time with a
resolver error naming that library, and installs nothing.

The installs run concurrently in one module-scoped fixture (one to three minutes,
as busy as the machine is). What makes them safe, checked without installing
(exact sibling pins, declared imports), is test_packaging.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from packaging.requirements import Requirement

from testsupport.mcp_client import initialize_body
from testsupport.net import free_port
from testsupport.processes import ManagedProcess
from testsupport.valkey import ValkeyProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
CORE = "mcp-oauth-gateway-core"
ALONE = "mcp-streamablehttp-proxy"  # installed without CORE: must fail at install time
PIP_TIMEOUT = 600


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Package:
    name: str
    folder: str  # under packages/
    module: str
    version: str
    script: str | None
    requires: tuple[Requirement, ...]


def read_packages() -> dict[str, Package]:
    """Every package of ours, by its folder under packages/."""
    found = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        src = pyproject.parent / "src"
        modules = [p.name for p in src.iterdir() if p.is_dir() and p.name.isidentifier()]
        assert len(modules) == 1, f"{src}: one module expected, found {modules}"
        scripts = list(project.get("scripts", {}))
        found[pyproject.parent.name] = Package(
            name=canonical(project["name"]),
            folder=pyproject.parent.name,
            module=modules[0],
            version=project["version"],
            script=scripts[0] if scripts else None,
            requires=tuple(Requirement(r) for r in project.get("dependencies", [])),
        )
    return found


def readme_install_commands() -> dict[str, list[str]]:
    """The README's `pip install packages/...` lines, by the folder of the package each is for
    (the last it names)."""
    commands: dict[str, list[str]] = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        command, _, _ = line.partition("#")
        words = command.split()
        args = words[2:]
        if words[:2] == ["pip", "install"] and args and all(a[:9] == "packages/" for a in args):
            folder = args[-1].removeprefix("packages/").rstrip("/")
            assert folder not in commands, f"two README commands install {folder}"
            commands[folder] = args
    return commands


PACKAGES = read_packages()
OURS = {p.name: p for p in PACKAGES.values()}
SERVED = sorted(folder for folder, p in PACKAGES.items() if p.script)


@dataclass
class Venv:
    path: Path
    args: list[str]
    install: subprocess.CompletedProcess[str]
    seconds: float

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def env(self) -> dict[str, str]:
        """The environment of someone who activated this venv (not the workspace's)."""
        workspace_bin = str(Path(sys.executable).parent)
        path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p != workspace_bin]
        return {
            **os.environ,
            "VIRTUAL_ENV": str(self.path),
            "PATH": os.pathsep.join([str(self.bin), *path]),
            "PYTHONPATH": "",
        }

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, env=self.env, cwd=self.path, capture_output=True, text=True, timeout=timeout
        )

    def pip_list(self) -> dict[str, str]:
        listed = self.run(str(self.bin / "pip"), "list", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        return {canonical(d["name"]): d["version"] for d in json.loads(listed.stdout)}

    def ours(self) -> dict[str, str]:
        return {name: v for name, v in self.pip_list().items() if name in OURS}

    def pip_output(self) -> str:
        """What pip said (without its notes on this machine's empty extra index folders)."""
        said = [
            line
            for line in (self.install.stdout + self.install.stderr).splitlines()
            if not line.startswith("WARNING: Location ")
        ]
        return f"$ pip install {' '.join(self.args)}\n" + "\n".join(said[-60:])


def fresh_venv_and_install(path: Path, args: list[str]) -> Venv:
    """`python -m venv` with pip, then `pip install <args>` from the top of the checkout."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "venv", str(path)], check=True, capture_output=True, timeout=120
    )
    venv = Venv(path, args, subprocess.CompletedProcess([], 0, "", ""), 0.0)
    venv.install = subprocess.run(
        [str(venv.bin / "pip"), "install", *args],
        env=venv.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
    )
    venv.seconds = time.monotonic() - started
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Venv]:
    """A fresh venv per README command, plus one for ALONE without the core: concurrently."""
    jobs = {folder: args for folder, args in readme_install_commands().items()}
    jobs["(alone)"] = [f"packages/{OURS[ALONE].folder}"]
    base = tmp_path_factory.mktemp("venvs")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {
            key: pool.submit(fresh_venv_and_install, base / key.strip("()"), args)
            for key, args in jobs.items()
        }
        venvs = {key: future.result() for key, future in futures.items()}
    timings = ", ".join(f"{key} {v.seconds:.0f}s" for key, v in venvs.items())
    print(f"\nfresh venvs and pip installs: {time.monotonic() - started:.0f}s ({timings})")
    return venvs


def test_the_readme_has_one_install_command_per_package_naming_its_siblings() -> None:
    """Each command names every package of ours its package needs (by folder), the core first."""
    commands = readme_install_commands()
    assert sorted(commands) == SERVED
    for folder, args in commands.items():
        named = {a.removeprefix("packages/").rstrip("/") for a in args}
        needed = {folder}
        pending = [PACKAGES[folder]]
        while pending:
            for req in pending.pop().requires:
                if (sibling := OURS.get(canonical(req.name))) and sibling.folder not in needed:
                    needed.add(sibling.folder)
                    pending.append(sibling)
        assert named == needed, f"README command for {folder}: {args}"
        assert args[0] == f"packages/{OURS[CORE].folder}"


@pytest.mark.parametrize("folder", SERVED)
def test_pip_installs_ours_and_only_ours(installed: dict[str, Venv], folder: str) -> None:
    venv = installed[folder]
    assert venv.install.returncode == 0, venv.pip_output()
    named = {PACKAGES[a.removeprefix("packages/").rstrip("/")] for a in venv.args}
    assert venv.ours() == {p.name: p.version for p in named}


@pytest.mark.parametrize("folder", SERVED)
def test_every_module_of_ours_imports(installed: dict[str, Venv], folder: str) -> None:
    """No module of ours needs a package its distribution does not declare."""
    venv = installed[folder]
    assert venv.install.returncode == 0, venv.pip_output()
    modules = [OURS[name].module for name in venv.ours()]
    walk = (
        "import importlib, pkgutil, sys\n"
        "for top in sys.argv[1:]:\n"
        "    root = importlib.import_module(top)\n"
        "    for info in pkgutil.walk_packages(root.__path__, top + '.'):\n"
        "        if not info.name.endswith('.__main__'):\n"
        "            importlib.import_module(info.name)\n"
    )
    done = venv.run(str(venv.bin / "python"), "-c", walk, *modules)
    assert done.returncode == 0, done.stderr[-4000:]


# A stdio MCP server in a few lines of the standard library: what the proxy wraps here.
STDIO_SERVER = """
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" in msg and "method" in msg:
        result = {}
        if msg["method"] == "initialize":
            result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {},
                      "serverInfo": {"name": "stdio-from-the-test", "version": "1"}}
        print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
"""


@pytest.fixture(scope="module")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyProcess]:
    server = ValkeyProcess(tmp_path_factory.mktemp("install-valkey")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("folder", SERVED)
def test_the_console_script_says_its_version(installed: dict[str, Venv], folder: str) -> None:
    venv = installed[folder]
    assert venv.install.returncode == 0, venv.pip_output()
    package = PACKAGES[folder]
    assert package.script
    version = venv.run(str(venv.bin / package.script), "--version")
    assert version.returncode == 0, version.stderr[-2000:]
    assert package.version in version.stdout, version.stdout


@pytest.mark.parametrize("folder", SERVED)
def test_the_console_script_serves(
    installed: dict[str, Venv], folder: str, request: pytest.FixtureRequest
) -> None:
    venv = installed[folder]
    assert venv.install.returncode == 0, venv.pip_output()
    package = PACKAGES[folder]
    assert package.script
    script = str(venv.bin / package.script)
    if package.name == "mcp-streamablehttp-client":
        helped = venv.run(script, "--help")
        assert helped.returncode == 0, helped.stderr[-2000:]
        assert "usage" in helped.stdout.lower()
        return

    port = free_port()
    argv = [script, "--host", "127.0.0.1", "--port", str(port)]
    env = dict(venv.env)
    if package.name == "mcp-oauth-dynamicclient":
        valkey: ValkeyProcess = request.getfixturevalue("valkey")
        argv.insert(1, "serve")
        env |= {"REDIS_URL": valkey.url, "REDIS_KEY_PREFIX": "install-test:"}
    if package.name == "mcp-streamablehttp-proxy":
        server = venv.path / "stdio_server.py"
        server.write_text(STDIO_SERVER)
        argv += ["--", str(venv.bin / "python"), str(server)]
    base = f"http://127.0.0.1:{port}"
    with ManagedProcess(argv, log_path=venv.path / "serve.log", env=env, cwd=venv.path) as proc:
        proc.wait_healthy(base + "/health", timeout=60)
        if package.name == "mcp-streamablehttp-proxy":
            answer = httpx2.post(
                base + "/mcp",
                json=initialize_body("install-test", "2025-06-18"),
                headers={"accept": "application/json, text/event-stream"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            assert "stdio-from-the-test" in answer.text


def test_a_package_without_the_core_it_pins_fails_at_install_time(
    installed: dict[str, Venv],
) -> None:
    """`pip install packages/mcp-streamablehttp-proxy` alone: a resolver error naming the core
    (no namesake from PyPI fills in), and nothing of ours installed."""
    venv = installed["(alone)"]
    output, code = venv.pip_output(), venv.install.returncode
    assert code != 0, output
    assert CORE in output, output
    assert re.search(r"No matching distribution|ResolutionImpossible|conflict", output), output
    assert venv.ours() == {}
    assert set(venv.pip_list()) <= {"pip", "setuptools", "wheel"}
