"""Muster as a user runs it: the `muster` command serving on a real port."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

MUSTER = Path(sys.executable).parent / "muster"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = os.environ | {
        "MUSTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/muster.db",
        "MUSTER_PORT": str(port),
        "MUSTER_HOST": "127.0.0.1",
    }
    key = subprocess.run(
        [MUSTER, "create-api-key", "--name", "ops", "--scopes", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    log = (tmp_path / "server.log").open("w+")
    process = subprocess.Popen([MUSTER, "serve"], env=env, stderr=log, stdout=log, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        log.seek(0)
        pytest.fail(f"muster serve did not come up:\n{log.read()}")
    yield base, key, process, log
    if process.poll() is None:
        process.kill()
        process.wait()


def test_serves_the_api_with_a_cli_made_key_and_logs_json(server):
    base, key, process, log = server
    headers = {"Authorization": f"Bearer {key}", "X-Request-ID": "req-from-test-1"}
    response = httpx.get(f"{base}/api/v1/api-keys", headers=headers)
    assert response.status_code == 200
    assert [k["name"] for k in response.json()["items"]] == ["ops"]
    assert response.headers["x-request-id"] == "req-from-test-1"
    assert httpx.get(f"{base}/readyz").status_code == 200
    assert httpx.get(f"{base}/api/v1/api-keys").status_code == 401

    process.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once it has shut down cleanly
    assert process.wait(timeout=20) in (0, -signal.SIGTERM)
    log.seek(0)
    lines = [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]
    assert any(entry["message"] == "Application shutdown complete." for entry in lines)
    access = [entry for entry in lines if entry.get("request_id") == "req-from-test-1"]
    assert [(e["status"], e["route"]) for e in access] == [(200, "/api/v1/api-keys")]
    assert key not in json.dumps(lines)
