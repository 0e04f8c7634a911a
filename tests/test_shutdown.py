"""Stopping `muster serve`: not ready at once, still serving for the delay, in-flight work done."""

import json
import signal
import socket
import time

import httpx

from tests.conftest import ADMIN_KEY
from tests.processes import launch

DELAY = 2.0


def _start(tmp_path, delay: float):
    server = launch(
        {
            "MUSTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/muster.db",
            "MUSTER_ADMIN_API_KEY": ADMIN_KEY,
            "MUSTER_SHUTDOWN_DELAY_SECONDS": str(delay),
        },
        tmp_path,
    )
    server.wait_until_up()
    return server


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


def test_sigterm_turns_readyz_to_503_serves_the_delay_then_finishes_in_flight_requests(tmp_path):
    server = _start(tmp_path, DELAY)
    try:
        auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
        assert httpx.get(f"{server.base}/readyz").status_code == 200

        # A request in flight across the whole shutdown: headers and half of the body now.
        body = json.dumps({"title": "Sent across a shutdown", "severity": "sev3"}).encode()
        in_flight = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        in_flight.sendall(
            b"POST /api/v1/incidents HTTP/1.1\r\nHost: muster\r\n"
            + f"Authorization: Bearer {ADMIN_KEY}\r\n".encode()
            + b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )

        server.terminate()
        signalled = time.monotonic()
        time.sleep(0.3)
        ready = httpx.get(f"{server.base}/readyz")
        assert ready.status_code == 503
        assert ready.json()["detail"] == "Shutting down"
        assert httpx.get(f"{server.base}/healthz").status_code == 200
        # Still serving real requests while the load balancer drains.
        assert httpx.get(f"{server.base}/api/v1/incidents", headers=auth).status_code == 200

        while not _refuses_connections(server.port):
            assert time.monotonic() - signalled < DELAY + 5, "never stopped listening"
            time.sleep(0.1)
        assert time.monotonic() - signalled >= DELAY - 0.2, "stopped listening before the delay"
        assert server.process.poll() is None, "exited with a request in flight"

        in_flight.sendall(body[10:])
        response = in_flight.recv(65536).decode()
        in_flight.close()
        assert response.startswith("HTTP/1.1 201"), response
        assert "connection: close" in response.lower()

        assert server.wait(timeout=10) in (0, -signal.SIGTERM)
        lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
        messages = [entry["message"] for entry in lines]
        assert any(m.startswith("SIGTERM received: /readyz answers 503") for m in messages)
        assert messages.index("Shutting down") < messages.index("Application shutdown complete.")
    finally:
        server.stop()


def test_a_second_sigterm_cuts_the_delay_short(tmp_path):
    server = _start(tmp_path, 60)
    try:
        server.terminate()
        time.sleep(0.3)
        assert httpx.get(f"{server.base}/readyz").status_code == 503
        started = time.monotonic()
        server.terminate()
        assert server.wait(timeout=10) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 10
    finally:
        server.stop()
