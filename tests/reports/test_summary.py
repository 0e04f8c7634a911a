"""The summary report over scripted incidents and deploys with known times, exactly."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.auth.test_api_keys import create_key
from tests.core.test_errors import assert_problem
from tests.factories import join, make_incident, move
from tests.postmortems.helpers import add_item

URL = "/api/v1/reports/summary"
WINDOW = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-06T00:00:00Z"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def deploy(
    client: httpx.AsyncClient, service: str, status: str, finished: str, **fields: Any
) -> str:
    body = {
        "service": service,
        "environment": "production",
        "status": status,
        "started_at": f"{finished[:11]}00:00:00Z",
        "finished_at": finished,
    }
    response = await client.post("/api/v1/deploys", json=body | fields)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def scripted(client: httpx.AsyncClient, clock) -> dict[str, dict[str, Any]]:
    """Four incidents in the window (A to D), one before it (E), and deploys of three services."""
    d2 = await deploy(client, "checkout", "failed", "2026-03-02T08:30:00Z")
    d5 = await deploy(client, "payments", "succeeded", "2026-03-03T08:00:00Z")
    await deploy(client, "checkout", "succeeded", "2026-03-02T07:05:00Z")
    await deploy(client, "checkout", "succeeded", "2026-03-02T09:40:00Z", kind="rollback")
    await deploy(client, "checkout", "failed", "2026-03-03T10:00:00Z", environment="staging")
    await deploy(client, "checkout", "rolled_back", "2026-03-04T12:00:00Z")
    await deploy(client, "checkout", "succeeded", "2026-03-04T12:30:00Z")
    await deploy(client, "search", "succeeded", "2026-02-20T10:00:00Z")

    clock.set(at("2026-02-25T09:00:00"))
    e = await make_incident(client, title="E", severity="sev1", services=["checkout"])
    clock.advance(minutes=1)
    await move(client, e, "acknowledged")

    clock.set(at("2026-03-02T09:00:00"))
    a = await make_incident(client, title="A", severity="sev1", services=["checkout"])
    clock.advance(minutes=2)
    await move(client, a, "acknowledged")  # 120 s
    clock.advance(minutes=2)
    await join(client, a, "sam", "sre")  # 240 s
    await client.patch(f"/api/v1/incidents/{a['id']}", json={"caused_by_deploy_id": d2})
    clock.advance(minutes=26)
    await move(client, a, "mitigated")  # 1800 s
    clock.advance(minutes=30)
    await move(client, a, "resolved")  # 3600 s
    await add_item(client, a, title="A1", due="2026-03-03")
    await add_item(client, a, title="A2", status="done")

    clock.set(at("2026-03-03T09:00:00"))
    b = await make_incident(
        client,
        title="B",
        severity="sev2",
        services=["checkout", "payments"],
        labels={"alertname": "QueueLag"},
    )
    clock.advance(minutes=10)
    await move(client, b, "acknowledged")  # 600 s
    clock.advance(minutes=1)
    kim = await join(client, b, "kim", "observer")
    clock.advance(minutes=1)
    role = await client.patch(
        f"/api/v1/incidents/{b['id']}/participants/{kim['id']}", json={"role": "sre"}
    )
    assert role.status_code == 200  # 720 s
    await client.patch(f"/api/v1/incidents/{b['id']}", json={"caused_by_deploy_id": d5})
    clock.advance(minutes=78)
    await move(client, b, "resolved")  # mitigated and resolved: 5400 s

    clock.set(at("2026-03-04T09:00:00"))
    c = await make_incident(
        client, title="C", severity="sev3", services=["payments"], labels={"alertname": "QueueLag"}
    )
    assert c["recurrence_of"] == b["id"]
    clock.advance(minutes=6)
    await move(client, c, "investigating")  # acknowledged by investigating: 360 s
    clock.advance(minutes=39)
    await move(client, c, "mitigated")  # 2700 s
    await add_item(client, c, title="C1", due="2026-04-01")

    clock.set(at("2026-03-05T09:00:00"))
    d = await make_incident(client, title="D", severity="sev2", services=["search"])
    clock.advance(minutes=1)
    await move(client, d, "acknowledged")  # 60 s

    clock.set(at("2026-03-05T12:00:00"))
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


async def report(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(URL, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def no_recovery() -> dict[str, Any]:
    return {"count": 0, "median_seconds": None, "p90_seconds": None, "unrecovered": 0}


async def test_every_figure_of_the_summary_is_exact(client, clock):
    await scripted(client, clock)
    assert await report(client, **WINDOW) == {
        "window": WINDOW,
        "service": None,
        "severity": [],
        "environment": None,
        "incidents": 4,
        "by_severity": {"sev1": 1, "sev2": 2, "sev3": 1, "sev4": 0},
        "by_status": {
            "triggered": 0,
            "acknowledged": 1,
            "investigating": 0,
            "mitigated": 1,
            "resolved": 2,
            "closed": 0,
            "declined": 0,
            "merged": 0,
        },
        "by_service": {"checkout": 2, "payments": 2, "search": 1},
        # nearest rank: [60, 120, 360, 600] → median is the 2nd, p90 the 4th
        "time_to_acknowledge": {"count": 4, "median_seconds": 120.0, "p90_seconds": 600.0},
        "time_to_sre_engagement": {"count": 2, "median_seconds": 240.0, "p90_seconds": 720.0},
        "time_to_mitigate": {"count": 3, "median_seconds": 2700.0, "p90_seconds": 5400.0},
        "time_to_resolve": {"count": 2, "median_seconds": 3600.0, "p90_seconds": 5400.0},
        # No deploy here names its commit time (tests/reports/test_lead_time.py does).
        "lead_time_for_changes": {"count": 0, "median_seconds": None, "p90_seconds": None},
        "sre_engaged": {
            "within_5_min": {"count": 1, "share": 0.25},
            "within_15_min": {"count": 2, "share": 0.5},
        },
        "services": [
            {
                "service": "checkout",
                "incidents": 2,
                "deploys": 6,
                "change_failures": 1,
                "change_failure_rate": 1 / 6,
                "failed_deploy_recovery": {
                    "count": 2,
                    "median_seconds": 1800.0,
                    "p90_seconds": 4200.0,
                    "unrecovered": 1,
                },
            },
            {
                "service": "payments",
                "incidents": 2,
                "deploys": 1,
                "change_failures": 1,
                "change_failure_rate": 1.0,
                "failed_deploy_recovery": no_recovery(),
            },
            {
                "service": "search",
                "incidents": 1,
                "deploys": 0,
                "change_failures": 0,
                "change_failure_rate": None,
                "failed_deploy_recovery": no_recovery(),
            },
        ],
        "action_items": {"total": 3, "open": 2, "overdue": 1},
        "recurrences": 1,
        "declined": {
            "total": 0,
            "by_reason": {"false_positive": 0, "duplicate": 0, "not_an_incident": 0, "test": 0},
        },
        "escalations": {},
        "not_engaged_within_policy": 0,
    }


async def test_filters_narrow_incidents_and_deploy_figures(client, clock):
    await scripted(client, clock)
    payments = await report(client, service="payments", **WINDOW)
    assert payments["incidents"] == 2
    assert payments["by_severity"] == {"sev1": 0, "sev2": 1, "sev3": 1, "sev4": 0}
    assert payments["by_service"] == {"checkout": 1, "payments": 2}
    assert payments["time_to_acknowledge"] == {
        "count": 2,
        "median_seconds": 360.0,
        "p90_seconds": 600.0,
    }
    assert payments["time_to_sre_engagement"] == {
        "count": 1,
        "median_seconds": 720.0,
        "p90_seconds": 720.0,
    }
    assert payments["time_to_mitigate"]["median_seconds"] == 2700.0
    assert payments["time_to_resolve"]["count"] == 1
    assert payments["sre_engaged"] == {
        "within_5_min": {"count": 0, "share": 0.0},
        "within_15_min": {"count": 1, "share": 0.5},
    }
    assert [s["service"] for s in payments["services"]] == ["payments"]
    assert payments["action_items"] == {"total": 1, "open": 1, "overdue": 0}
    assert payments["recurrences"] == 1

    sev2 = await report(client, severity="sev2", **WINDOW)
    assert sev2["incidents"] == 2
    assert sev2["time_to_acknowledge"]["median_seconds"] == 60.0
    assert {s["service"]: s["change_failures"] for s in sev2["services"]} == {
        "checkout": 0,
        "payments": 1,
        "search": 0,
    }, "only causes named by sev2 incidents count"
    both = await report(client, severity=["sev1", "sev3"], **WINDOW)
    assert both["incidents"] == 2
    assert both["by_severity"] == {"sev1": 1, "sev2": 0, "sev3": 1, "sev4": 0}

    production = await report(client, service="checkout", environment="production", **WINDOW)
    assert production["services"] == [
        {
            "service": "checkout",
            "incidents": 2,
            "deploys": 5,
            "change_failures": 1,
            "change_failure_rate": 0.2,
            "failed_deploy_recovery": {
                "count": 2,
                "median_seconds": 1800.0,
                "p90_seconds": 4200.0,
                "unrecovered": 0,
            },
        }
    ]


async def test_the_window_is_half_open_and_defaults_to_the_last_30_days(client, clock):
    await scripted(client, clock)
    only_b = await report(client, **{"from": "2026-03-03T09:00:00Z", "to": "2026-03-04T09:00:00Z"})
    assert only_b["incidents"] == 1
    assert only_b["by_severity"]["sev2"] == 1
    assert only_b["services"][0]["deploys"] == 1, "checkout's staging failure on 03-03"

    default = await report(client)
    assert default["window"] == {"from": "2026-02-03T12:00:00Z", "to": "2026-03-05T12:00:00Z"}
    assert default["incidents"] == 5
    assert default["by_severity"]["sev1"] == 2
    since = await report(client, **{"from": "2026-03-04T00:00:00+01:00"})
    assert since["window"] == {"from": "2026-03-03T23:00:00Z", "to": "2026-04-02T23:00:00Z"}
    assert since["incidents"] == 2


async def test_an_empty_window_has_zero_counts_and_no_figures(client):
    empty = await report(client, **WINDOW)
    assert empty["incidents"] == 0
    assert empty["time_to_resolve"] == {"count": 0, "median_seconds": None, "p90_seconds": None}
    assert empty["sre_engaged"]["within_5_min"] == {"count": 0, "share": None}
    assert empty["services"] == []
    assert empty["action_items"] == {"total": 0, "open": 0, "overdue": 0}


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-03-02T00:00:00Z", "to": "2026-03-02T00:00:00Z"},
        {"from": "2026-03-03T00:00:00Z", "to": "2026-03-02T00:00:00Z"},
        {"from": "2026-03-01T00:00:00"},
        {"to": "yesterday"},
        {"severity": "sev9"},
        {"service": ""},
        {"environment": "x" * 101},
    ],
)
async def test_bad_report_queries_are_422(client, params):
    assert_problem(await client.get(URL, params=params), 422)


async def test_reports_need_incidents_read(client, anon_client):
    deployer = await create_key(client, "deploys:write")
    reader = await create_key(client, "incidents:read", name="dash")
    assert_problem(await anon_client.get(URL), 401)
    headers = {"Authorization": f"Bearer {deployer['key']}"}
    assert_problem(await anon_client.get(URL, headers=headers), 403)
    headers = {"Authorization": f"Bearer {reader['key']}"}
    assert (await anon_client.get(URL, headers=headers)).status_code == 200
