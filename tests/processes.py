"""`muster` as real processes, started the way an operator or a container starts them."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
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
    env: dict[str, str],
    cwd: Path,
    *,
    name: str = "muster",
    command: Path = MUSTER,
    port: int | None = None,
) -> Server:
    """Start `muster serve` on `port` (default: a free one) without waiting for it."""
    port = port or free_port()
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


class TcpProxy:
    """A TCP relay to a server that a test can cut and restore, as if the server went down.

    Runs in threads of its own, so it keeps relaying while the test blocks or awaits.
    `cut()` drops every open connection and refuses new ones (the port stops listening);
    `restore()` listens again on the same port.
    """

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.target_port = host, target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        for sock in (source, sink):  # one side ended: end the other (the other pump exits)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            self._open.discard(source)
        source.close()
