"""The packages as distributions: who depends on whom, what each declares, what each wheel holds.

Installing each package with real pip in a fresh venv is `test_install.py`; this
module checks, in the development environment, what makes those installs safe.
"""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.parent for p in (ROOT / "packages").glob("*/pyproject.toml"))
CORE = "mcp-oauth-gateway-core"
# The reference implementation's releases of the same six names; ours must never be older.
FOREIGN_RELEASE = Version("0.2.0")
# The one service package another builds on: the stateful echo server is the stateless
# one plus two session tools (the nine shared tools are written once).
BUILDS_ON = {
    "mcp-echo-streamablehttp-server-stateful": {"mcp-echo-streamablehttp-server-stateless"},
}


def project(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    return data


OURS = {project(p)["name"]: p for p in PACKAGES}
SERVICES = sorted(set(OURS) - {CORE})


def requirements(name: str) -> list[Requirement]:
    return [Requirement(r) for r in project(OURS[name]).get("dependencies", [])]


def test_there_are_six_services_and_the_core() -> None:
    assert len(SERVICES) == 6
    assert CORE in OURS


def test_no_service_depends_on_another_service_and_siblings_are_pinned_exactly() -> None:
    for name in SERVICES:
        siblings = {r.name: r for r in requirements(name) if r.name in OURS}
        assert CORE in siblings, f"{name} does not require {CORE}"
        assert set(siblings) - {CORE} == BUILDS_ON.get(name, set()), name
        for sibling, requirement in siblings.items():
            pinned = [(s.operator, s.version) for s in requirement.specifier]
            assert pinned == [("==", project(OURS[sibling])["version"])], (name, requirement)
    assert not [r for r in requirements(CORE) if r.name in OURS]


def test_every_version_is_one_that_pypis_same_named_releases_cannot_shadow() -> None:
    versions = {name: Version(project(folder)["version"]) for name, folder in OURS.items()}
    assert len(set(versions.values())) == 1, versions
    assert all(v > FOREIGN_RELEASE for v in versions.values()), versions


def _imported_top_level(source: Path) -> set[str]:
    names: set[str] = set()
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__"}


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_imported_package_is_declared(name: str) -> None:
    folder = OURS[name]
    own = {p.name for p in (folder / "src").iterdir() if p.is_dir()}
    declared = {r.name.lower().replace("_", "-") for r in requirements(name)}
    providers = importlib.metadata.packages_distributions()
    undeclared = {}
    for module in _imported_top_level(folder / "src") - own:
        dists = {d.lower().replace("_", "-") for d in providers.get(module, [module])}
        if not dists & declared:
            undeclared[module] = sorted(dists)
    assert not undeclared, f"{name} imports packages it does not declare: {undeclared}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every package's wheel and sdist, built as a release would build them."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        ["uv", "build", "--all-packages", "--out-dir", str(out), "--quiet"],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    return out


def _wheels(built: Path) -> Iterator[tuple[str, zipfile.ZipFile]]:
    for wheel in sorted(built.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            yield wheel.name, archive


def test_every_wheel_carries_the_license_and_the_metadata_a_user_checks(built: Path) -> None:
    license_text = (ROOT / "LICENSE").read_bytes()
    seen = set()
    for wheel, archive in _wheels(built):
        files = archive.namelist()
        metadata_name = next(f for f in files if f.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        seen.add(metadata["Name"])
        assert metadata["License-Expression"] == "Apache-2.0", wheel
        licenses = [f for f in files if f.endswith(".dist-info/licenses/LICENSE")]
        assert licenses and archive.read(licenses[0]) == license_text, wheel
        urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
        assert {"Homepage", "Source", "Issues", "Documentation"} <= set(urls), wheel
        classifiers = metadata.get_all("Classifier") or []
        assert "Programming Language :: Python :: 3.11" in classifiers, wheel
        assert "mcp" in (metadata["Keywords"] or "").split(","), wheel
        assert any(f.endswith("/py.typed") for f in files), wheel
    assert seen == set(OURS)


def test_every_sdist_carries_the_license(built: Path) -> None:
    license_text = (ROOT / "LICENSE").read_bytes()
    sdists = sorted(built.glob("*.tar.gz"))
    assert len(sdists) == len(OURS)
    for sdist in sdists:
        with tarfile.open(sdist) as archive:
            member = next(m for m in archive.getmembers() if m.name.endswith("/LICENSE"))
            extracted = archive.extractfile(member)
            assert extracted is not None and extracted.read() == license_text, sdist.name


def _console_scripts() -> list[tuple[str, str]]:
    return [
        (name, script) for name in SERVICES for script in project(OURS[name]).get("scripts", {})
    ]


@pytest.mark.parametrize(("name", "script"), _console_scripts())
def test_every_console_script_says_its_version(name: str, script: str) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / script), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{name} {project(OURS[name])['version']}"


@pytest.mark.parametrize(
    ("script", "variable", "args"),
    [
        ("mcp-echo-streamablehttp-server-stateless", "MCP_ECHO_PORT", []),
        ("mcp-echo-streamablehttp-server-stateful", "MCP_ECHO_PORT", []),
        ("mcp-fetch-streamablehttp-server", "MCP_FETCH_PORT", []),
        ("mcp-streamablehttp-proxy", "MCP_PROXY_PORT", ["--", "true"]),
        ("mcp-oauth-server", "AUTH_PORT", ["serve"]),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    script: str, variable: str, args: list[str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # no .env of the developer's in the way
        env={"PATH": str(Path(sys.executable).parent), variable: "not-a-port"},
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"invalid settings: {variable}: " in done.stderr
