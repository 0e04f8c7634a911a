"""A real Alertmanager notifying a real Muster process on loopback (PostgreSQL)."""

import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import ADMIN_KEY, ALERTMANAGER_TOKEN, fresh_database, unavailable
from tests.processes import free_port, muster_env, muster_serve

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

CONFIG = """
route:
  receiver: muster
  group_by: ['alertname', 'service']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: muster
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            credentials: {token}
"""


@pytest.fixture
def alertmanager_binary() -> str:
    if ALERTMANAGER is None:
        unavailable("prometheus-alertmanager is not installed (.ci/run installs it)")
    return ALERTMANAGER


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.25)
    raise AssertionError("condition not reached in time")


async def test_real_alertmanager_opens_and_mitigates_an_incident(alertmanager_binary, tmp_path):
    async with fresh_database("postgres", tmp_path) as url:
        env = muster_env(url, admin_api_key=ADMIN_KEY, alertmanager_token=ALERTMANAGER_TOKEN)
        with muster_serve(env, tmp_path) as muster:
            port = free_port()
            config = tmp_path / "alertmanager.yml"
            webhook = f"{muster.base}/api/v1/webhooks/alertmanager"
            config.write_text(CONFIG.format(url=webhook, token=ALERTMANAGER_TOKEN))
            log = (tmp_path / "alertmanager.log").open("w")
            alertmanager = subprocess.Popen(
                [
                    alertmanager_binary,
                    f"--config.file={config}",
                    f"--storage.path={tmp_path / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                ],
                stdout=log,
                stderr=log,
            )
            try:
                api = f"http://127.0.0.1:{port}/api/v2"
                wait_for(lambda: _up(f"http://127.0.0.1:{port}/-/ready"))
                started = datetime.now(UTC)
                alert = {
                    "labels": {
                        "alertname": "DiskFull",
                        "service": "billing",
                        "severity": "critical",
                        "instance": "db-1",
                    },
                    "annotations": {"summary": "billing database disk is 95% full"},
                    "startsAt": started.isoformat(),
                }
                assert httpx.post(f"{api}/alerts", json=[alert]).status_code == 200

                headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
                incidents = f"{muster.base}/api/v1/incidents"
                opened = wait_for(lambda: httpx.get(incidents, headers=headers).json()["items"])
                assert len(opened) == 1
                incident = opened[0]
                assert (incident["title"], incident["severity"], incident["services"]) == (
                    "billing database disk is 95% full",
                    "sev1",
                    ["billing"],
                )

                resolved = alert | {
                    "endsAt": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
                }
                assert httpx.post(f"{api}/alerts", json=[resolved]).status_code == 200
                one = f"{incidents}/{incident['id']}"
                wait_for(lambda: httpx.get(one, headers=headers).json()["status"] == "mitigated")
                kinds = [
                    e["kind"] for e in httpx.get(f"{one}/timeline", headers=headers).json()["items"]
                ]
                assert kinds.count("alert_firing") == 1
                assert kinds.count("alert_resolved") == 1
                assert len(httpx.get(incidents, headers=headers).json()["items"]) == 1
            finally:
                alertmanager.terminate()
                alertmanager.wait(timeout=10)
                log.close()


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
