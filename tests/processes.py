"""Real `muster serve` processes for tests that need one, on a free loopback port."""

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
from typing import IO

import httpx

MUSTER = Path(sys.executable).parent / "muster"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MusterProcess:
    base_url: str
    process: subprocess.Popen[bytes]
    log: IO[str]

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)


def muster_env(database_url: str, **settings: str) -> dict[str, str]:
    env = os.environ | {"MUSTER_DATABASE_URL": database_url, "MUSTER_HOST": "127.0.0.1"}
    return env | {f"MUSTER_{name.upper()}": value for name, value in settings.items()}


@contextmanager
def muster_serve(env: dict[str, str], workdir: Path) -> Iterator[MusterProcess]:
    port = free_port()
    log = (workdir / f"muster-{port}.log").open("w+")
    process = subprocess.Popen(
        [str(MUSTER), "serve"],
        env=env | {"MUSTER_PORT": str(port)},
        stdout=log,
        stderr=log,
        cwd=workdir,
    )
    running = MusterProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{running.base_url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"muster serve did not become ready:\n{running.output()}")
        if process.poll() is not None:
            raise AssertionError(f"muster serve exited:\n{running.output()}")
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
