"""Muster as a user runs it: the `muster` command serving on a real port."""

import json
import signal
import subprocess

import httpx

from tests.processes import MUSTER, muster_env, muster_serve


def _create_key(env, tmp_path, *args):
    return subprocess.run(
        [MUSTER, "create-api-key", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )


def test_serves_the_api_with_a_cli_made_key_and_logs_json(tmp_path):
    env = muster_env(f"sqlite+aiosqlite:///{tmp_path}/muster.db")
    key = _create_key(env, tmp_path, "--name", "ops", "--scopes", "admin").stdout.strip()
    personal = _create_key(
        env, tmp_path, "--name", "alice-laptop", "--scopes", "incidents:write", "--person", "Alice"
    )
    assert "alice's API key 'alice-laptop'" in personal.stderr
    invisible = _create_key(
        env, tmp_path, "--name", "x", "--scopes", "admin", "--person", "alice\u200b"
    )
    assert invisible.returncode != 0
    assert "--person: a handle must not contain" in invisible.stderr
    with muster_serve(env, tmp_path) as muster:
        headers = {"Authorization": f"Bearer {key}", "X-Request-ID": "req-from-test-1"}
        response = httpx.get(f"{muster.base}/api/v1/api-keys", headers=headers)
        assert response.status_code == 200
        listed = {k["name"]: k["person"] for k in response.json()["items"]}
        assert listed == {"ops": None, "alice-laptop": "alice"}
        assert response.headers["x-request-id"] == "req-from-test-1"
        assert httpx.get(f"{muster.base}/api/v1/api-keys").status_code == 401

        # uvicorn re-raises the signal once it has shut down cleanly
        muster.terminate()
        assert muster.wait(timeout=20) in (0, -signal.SIGTERM)
        lines = [json.loads(line) for line in muster.output().splitlines() if line.startswith("{")]
    assert any(entry["message"] == "Application shutdown complete." for entry in lines)
    access = [entry for entry in lines if entry.get("request_id") == "req-from-test-1"]
    assert [(e["status"], e["route"]) for e in access] == [(200, "/api/v1/api-keys")]
    assert personal.stdout.strip() not in json.dumps(lines)
    assert key not in json.dumps(lines)
