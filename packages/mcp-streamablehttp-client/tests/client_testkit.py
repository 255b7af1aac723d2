"""Running the client as a person (or a desktop app) would: a real process, a real browser
command, a credentials file of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent


@dataclass
class ClientHome:
    """One user's machine: credentials file, browser visits log, working directory."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def credentials(self) -> Path:
        return self.root / "config" / "credentials.json"

    @property
    def visits_log(self) -> Path:
        return self.root / "browser-visits.log"

    def visits(self) -> int:
        return len(self.visits_log.read_text().splitlines()) if self.visits_log.exists() else 0

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MCP_", "BROWSER", "PYTEST", "COV_"))
        }
        env.update(
            {
                "PYTHONPATH": f"{REPO}{os.pathsep}{HERE}",
                "BROWSER": f"{sys.executable} {HERE / 'counting_browser.py'} %s",
                "BROWSER_VISITS": str(self.visits_log),
                "MCP_CLIENT_CREDENTIALS_FILE": str(self.credentials),
                "MCP_CLIENT_LOGIN_TIMEOUT": "60",
                "NO_COLOR": "1",
                "COLUMNS": "200",
            }
        )
        env.update(self.extra_env)
        return env

    def run(self, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mcp_streamablehttp_client", *args],
            env=self.env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "mcp_streamablehttp_client", *args],
            env=self.env(),
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stored(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.credentials.read_text())
        return data

    def entry(self, server_url: str) -> dict[str, Any]:
        entry: dict[str, Any] = self.stored()["servers"].get(server_url, {})
        return entry

    def edit(self, server_url: str, **changes: Any) -> None:
        data = self.stored()
        data["servers"][server_url].update(changes)
        self.credentials.write_text(json.dumps(data))


@asynccontextmanager
async def bridge(home: ClientHome, url: str, **client_kwargs: Any) -> AsyncIterator[Client]:
    """The bridge as a desktop client runs it: a child process the SDK's stdio client
    talks to, with the handshake (as desktop clients do)."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_streamablehttp_client", "--server-url", url],
        env=home.env(),
        cwd=str(home.root),
    )
    async with Client(params, mode="legacy", read_timeout_seconds=60, **client_kwargs) as client:
        yield client
