"""A real HTTP server on loopback that records what it is sent and answers as told.

It runs uvicorn in a thread of its own, so it serves the app under test in-process
(over real TCP) as well as `muster serve` subprocesses. Tell it how to answer the next
requests with `script` (a status code, or "hang" to answer only when stopped or
released) and stop it to make it "down" (connection refused); `start` brings it back
on the same port.
"""

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.script: list[int | str] = []
        self.default: int | str = 204
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def by_id(self) -> Counter[str]:
        return Counter(request.webhook_id for request in self.received)

    def start(self) -> "Receiver":
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            interface="asgi3",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._release.clear()
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"receiver did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self._server = self._thread = None

    def release(self) -> None:
        """Let hanging requests answer (with 200) from now on."""
        self._release.set()

    async def _app(self, scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        with self._lock:
            self._received.append(Received(scope["path"], headers, body))
            action = self.script.pop(0) if self.script else self.default
        if action == "hang":
            while not self._release.is_set():
                await asyncio.sleep(0.01)
            action = 200
        await send({"type": "http.response.start", "status": int(action), "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def eventually(
    check: Callable[[], Any], *, timeout: float = 15, message: str = "condition"
) -> Any:
    """Poll `check` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.02)
