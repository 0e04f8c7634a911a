"""Muster as a user runs it: the `muster` command serving on a real port."""

import json
import signal
import subprocess

import httpx

from tests.processes import MUSTER, muster_env, muster_serve


def test_serves_the_api_with_a_cli_made_key_and_logs_json(tmp_path):
    env = muster_env(f"sqlite+aiosqlite:///{tmp_path}/muster.db")
    key = subprocess.run(
        [MUSTER, "create-api-key", "--name", "ops", "--scopes", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    with muster_serve(env, tmp_path) as muster:
        headers = {"Authorization": f"Bearer {key}", "X-Request-ID": "req-from-test-1"}
        response = httpx.get(f"{muster.base}/api/v1/api-keys", headers=headers)
        assert response.status_code == 200
        assert [k["name"] for k in response.json()["items"]] == ["ops"]
        assert response.headers["x-request-id"] == "req-from-test-1"
        assert httpx.get(f"{muster.base}/api/v1/api-keys").status_code == 401

        # uvicorn re-raises the signal once it has shut down cleanly
        muster.terminate()
        assert muster.wait(timeout=20) in (0, -signal.SIGTERM)
        lines = [json.loads(line) for line in muster.output().splitlines() if line.startswith("{")]
    assert any(entry["message"] == "Application shutdown complete." for entry in lines)
    access = [entry for entry in lines if entry.get("request_id") == "req-from-test-1"]
    assert [(e["status"], e["route"]) for e in access] == [(200, "/api/v1/api-keys")]
    assert key not in json.dumps(lines)
