"""`muster` as real processes, started the way an operator or a container starts them."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

MUSTER = Path(sys.executable).parent / "muster"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"muster serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"muster serve did not come up in {timeout} s:\n{self.output()}")

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def launch(
    env: dict[str, str], cwd: Path, *, name: str = "muster", command: Path = MUSTER
) -> Server:
    """Start `muster serve` on a free port without waiting for it."""
    port = free_port()
    environment = (
        {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_")}
        | {"MUSTER_HOST": "127.0.0.1", "MUSTER_PORT": str(port)}
        | env
    )
    log = cwd / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(command), "serve"], env=environment, stdout=output, stderr=output, cwd=cwd
        )
    return Server(process, port, log)


def muster_env(database_url: str, **settings: str) -> dict[str, str]:
    """`MUSTER_*` variables for a process: the database and any `name=value` settings."""
    return {"MUSTER_DATABASE_URL": database_url} | {
        f"MUSTER_{name.upper()}": value for name, value in settings.items()
    }


@contextmanager
def muster_serve(env: dict[str, str], cwd: Path) -> Iterator[Server]:
    """A running `muster serve`, killed on exit if the test has not stopped it."""
    server = launch(env, cwd)
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()
