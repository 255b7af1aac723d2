"""One stdio MCP server process: lines in, lines out, and a clean death.

The child runs in its own process group so that ending it also ends whatever
it started (npx → node, uvx → python). Linux also gets a parent-death signal,
so a proxy killed with SIGKILL leaves no orphan behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp_streamablehttp_proxy.config import Settings

logger = logging.getLogger("mcp_streamablehttp_proxy.child")

_PR_SET_PDEATHSIG = 1
LAST_WORDS_SECONDS = 0.5

LineHandler = Callable[[bytes], None]
ExitHandler = Callable[[str], Awaitable[None]]


def _die_with_parent() -> None:
    """Runs in the forked child before exec: SIGTERM it when the proxy dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "the MCP server process ended"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the MCP server process was killed by {name}"
    return f"the MCP server process exited with code {code}"


class _ExitAwareProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The stream protocol asyncio uses, plus an event for the moment the process exits.

    `Process.wait()` only returns once the pipes are closed as well; the exit
    itself is what matters here.
    """

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.process_gone = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.process_gone.set()


class ChildProcess:
    def __init__(
        self, proc: asyncio.subprocess.Process, process_gone: asyncio.Event, tag: str
    ) -> None:
        self.proc = proc
        self.process_gone = process_gone
        self.tag = tag
        self._tasks: list[asyncio.Task[None]] = []
        self.exited = asyncio.Event()
        self.exit_reason = ""

    @classmethod
    async def spawn(
        cls,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | None,
        line_limit: int,
        tag: str,
    ) -> ChildProcess:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.subprocess_exec(
            lambda: _ExitAwareProtocol(line_limit, loop),
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env},
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # only prctl: safe between fork and exec
        )
        proc = asyncio.subprocess.Process(transport, protocol, loop)
        return cls(proc, protocol.process_gone, tag)

    @classmethod
    async def for_settings(cls, settings: Settings, tag: str) -> ChildProcess:
        """The configured MCP server, as a session's or the pool's child."""
        return await cls.spawn(
            settings.command,
            env=settings.env,
            cwd=settings.cwd or None,
            line_limit=settings.max_message_bytes,
            tag=tag,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self, on_line: LineHandler, on_exit: ExitHandler) -> None:
        self._tasks = [
            asyncio.create_task(self._read_stdout(on_line, on_exit)),
            asyncio.create_task(self._read_stderr()),
            asyncio.create_task(self._watch_exit()),
        ]

    async def _watch_exit(self) -> None:
        """A child can die while something it started still holds our pipes open (no EOF).

        Its exit is noticed here instead, and the rest of its process group goes
        with it, which closes the pipes and ends the session the usual way.
        """
        await self.process_gone.wait()
        await asyncio.sleep(LAST_WORDS_SECONDS)  # the last lines it wrote are read first
        self._signal_group(signal.SIGKILL)

    async def _read_stdout(self, on_line: LineHandler, on_exit: ExitHandler) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        while True:
            try:
                line = await stdout.readline()
            except ValueError:
                logger.warning(
                    "session=%s child wrote a line over the size limit; dropped", self.tag
                )
                continue
            except (ConnectionError, OSError):
                break
            if not line:
                break
            if line.strip():
                on_line(line)
        code = await self.proc.wait()
        self.exit_reason = describe_exit(code)
        self.exited.set()
        await on_exit(self.exit_reason)

    async def _read_stderr(self) -> None:
        stderr = self.proc.stderr
        assert stderr is not None
        while True:
            try:
                line = await stderr.readline()
            except ValueError:
                continue
            except (ConnectionError, OSError):
                return
            if not line:
                return
            logger.info(
                "session=%s stderr: %s", self.tag, line.decode(errors="replace").rstrip()[:2000]
            )

    def write(self, line: bytes) -> None:
        """Queue one message for the child's stdin (newline-terminated by the caller)."""
        stdin = self.proc.stdin
        if stdin is None or stdin.is_closing():
            raise ConnectionError(self.exit_reason or "the MCP server's stdin is closed")
        stdin.write(line)

    async def drain(self) -> None:
        stdin = self.proc.stdin
        if stdin is not None:
            await stdin.drain()

    async def terminate(self, grace: float) -> None:
        """Close stdin and SIGTERM the group; SIGKILL it after `grace`; the child is reaped.

        asyncio's child watcher reaps the process the moment it exits
        (`process_gone`); the pipes are waited for only as long as the grace.
        """
        stdin = self.proc.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        if not self.process_gone.is_set():
            self._signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process_gone.wait(), timeout=grace)
            except TimeoutError:
                logger.warning("session=%s child ignored SIGTERM; sending SIGKILL", self.tag)
                self._signal_group(signal.SIGKILL)
                await self.process_gone.wait()
        # Whatever it left in its group (npx's node, uvx's python) goes too.
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.exited.wait(), timeout=grace)
        for task in self._tasks:
            if not task.done():
                task.cancel()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)
