"""Real child processes for tests and benchmarks, always cleaned up.

A `ManagedProcess` starts in its own process group, writes its output to a log
file (shown when it fails to start), and on stop gets SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import uvicorn

from testsupport.net import free_port, wait_http


class ManagedProcess:
    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, "process not started"
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_healthy(self, url: str, timeout: float = 30.0) -> None:
        try:
            wait_http(url, timeout=timeout)
        except TimeoutError as exc:
            code = self.proc.poll() if self.proc else None
            raise TimeoutError(f"{exc}; exit={code}; log:\n{self.log()[-4000:]}") from None

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM the whole process group, SIGKILL after `grace` seconds; return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # Reap anything the child left in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ThreadedServer:
    """An ASGI app served by uvicorn on a real loopback port, in a background thread."""

    def __init__(self, app: object, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
            proxy_headers=False,  # as our services run: they decide whom to believe themselves
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def serve_app(app: object, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a free loopback port for the duration of the block; yield its base URL."""
    server = ThreadedServer(app, host=host).start()
    try:
        yield server.url
    finally:
        server.stop()


def start_http_service(
    argv: Sequence[str],
    *,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    health_path: str = "/health",
    timeout: float = 30.0,
) -> tuple[ManagedProcess, str]:
    """Start a service CLI on a free loopback port (`--host/--port` appended); wait for health.

    Returns the process and its base URL; the caller stops the process.
    """
    port = free_port()
    name = Path(argv[0]).name
    proc = ManagedProcess(
        [*argv, "--host", "127.0.0.1", "--port", str(port)],
        log_path=log_dir / f"{name}-{port}.log",
        env=env,
    ).start()
    base = f"http://127.0.0.1:{port}"
    try:
        proc.wait_healthy(base + health_path, timeout=timeout)
    except BaseException:
        proc.stop()
        raise
    return proc, base
