"""Declining an incident: a false alarm leaves the response figures and recurrence."""

import json
from datetime import UTC, datetime

import pytest

from tests.core.test_errors import assert_problem
from tests.factories import make_incident, move, outbox_types, read_incident, timeline
from tests.integrations.test_alertmanager import FIRING, RESOLVED, send

REASONS = ["false_positive", "duplicate", "not_an_incident", "test"]
DAY = {"from": "2026-11-28T00:00:00Z", "to": "2026-11-29T00:00:00Z"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def decline(client, incident, reason="false_positive", **fields):
    body = {"status": "declined", "reason": reason} | fields
    return await client.patch(f"/api/v1/incidents/{incident['id']}", json=body)


async def test_a_declined_false_alarm_leaves_the_response_times_and_is_counted_apart(
    client, clock, database
):
    clock.set(at("2026-11-28T14:02:00"))
    assert (await send(client, FIRING)).status_code == 200
    (alarm,) = (await client.get("/api/v1/incidents")).json()["items"]
    assert alarm["source"] == "alertmanager"
    clock.set(at("2026-11-28T14:03:00"))
    real = await make_incident(client, title="Checkout down")
    clock.set(at("2026-11-28T14:05:00"))
    await move(client, alarm, "acknowledged")
    await move(client, real, "acknowledged")  # 120 s
    before = (await outbox_types(database)).count("incident.status_changed")

    clock.set(at("2026-11-28T14:10:00"))
    response = await decline(client, alarm, note="Synthetic probe misfired")
    assert response.status_code == 200, response.text
    declined = response.json()
    assert declined["status"] == "declined"
    assert declined["declined_at"] == "2026-11-28T14:10:00Z"
    assert declined["decline_reason"] == "false_positive"
    assert declined["decline_note"] == "Synthetic probe misfired"
    assert declined["allowed_transitions"] == []
    assert await read_incident(client, alarm) == declined
    await move(client, real, "resolved")  # 420 s

    (entry,) = (await timeline(client, alarm, kind="status_changed"))[-1:]
    assert entry["data"] == {
        "from": "acknowledged",
        "to": "declined",
        "reason": "false_positive",
        "note": "Synthetic probe misfired",
    }
    assert "false_positive" in entry["summary"]
    assert (await outbox_types(database)).count("incident.status_changed") == before + 2

    listed = (await client.get("/api/v1/incidents", params={"status": "declined"})).json()
    assert [i["reference"] for i in listed["items"]] == [alarm["reference"]]
    assert listed["items"][0] == declined
    ended = (await client.get("/api/v1/incidents", params={"open": "false"})).json()["items"]
    assert {i["reference"] for i in ended} == {alarm["reference"], real["reference"]}

    summary = (await client.get("/api/v1/reports/summary", params=DAY)).json()
    assert summary["incidents"] == 2
    assert summary["by_status"]["declined"] == 1
    assert summary["time_to_acknowledge"] == {
        "count": 1,
        "median_seconds": 120.0,
        "p90_seconds": 120.0,
    }
    assert summary["time_to_mitigate"]["count"] == 1
    assert summary["time_to_resolve"] == {"count": 1, "median_seconds": 420.0, "p90_seconds": 420.0}
    assert summary["declined"] == {
        "total": 1,
        "by_reason": {"false_positive": 1, "duplicate": 0, "not_an_incident": 0, "test": 0},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "declined"}, "body.reason"),
        ({"status": "declined", "note": "noise"}, "body.reason"),
        ({"status": "declined", "reason": None}, "body.reason"),
        ({"status": "declined", "reason": "boring"}, "body.reason"),
        ({"status": "declined", "reason": "test", "note": "n" * 2001}, "body.note"),
        ({"title": "Renamed", "status": "declined"}, "body.reason"),
        ({"status": "acknowledged", "reason": "test"}, "body.reason"),
        ({"reason": "duplicate"}, "body.reason"),
        ({"severity": "sev1", "note": "noise"}, "body.note"),
    ],
)
async def test_a_reason_goes_with_a_decline_and_only_with_it(client, body, field):
    incident = await make_incident(client)
    response = await client.patch(f"/api/v1/incidents/{incident['id']}", json=body)
    problem = assert_problem(response, 422)
    assert field in [error["field"] for error in problem["errors"]], problem
    after = await read_incident(client, incident)
    assert after == incident


@pytest.mark.parametrize("path", [[], ["acknowledged"], ["investigating"]])
@pytest.mark.parametrize("reason", REASONS)
async def test_triggered_acknowledged_and_investigating_incidents_can_be_declined(
    client, path, reason
):
    incident = await make_incident(client)
    for status in path:
        response = await move(client, incident, status)
        assert "declined" in response.json()["allowed_transitions"]
    response = await decline(client, incident, reason)
    assert response.status_code == 200, response.text
    assert response.json()["decline_reason"] == reason
    assert response.json()["decline_note"] is None


@pytest.mark.parametrize("status", ["mitigated", "resolved", "closed"])
async def test_mitigated_and_later_incidents_cannot_be_declined(client, status):
    incident = await make_incident(client)
    await move(client, incident, status)
    problem = assert_problem(await decline(client, incident), 409)
    assert problem["type"] == "urn:muster:problem:invalid-transition"
    assert "declined" not in problem["allowed"]


async def test_declined_is_final(client):
    incident = await make_incident(client)
    declined = (await decline(client, incident, "test")).json()
    for target in ("triggered", "investigating", "resolved", "closed"):
        problem = assert_problem(await move(client, incident, target), 409)
        assert problem["allowed"] == []
        assert "final" in problem["detail"]
    assert_problem(await decline(client, incident, "duplicate"), 409)
    after = await read_incident(client, incident)
    assert after == declined


async def test_a_declined_incident_is_not_what_a_later_one_repeats(client):
    fields = {"services": ["payments"], "labels": {"alertname": "QueueLag"}}
    first = await make_incident(client, title="Queue lag", **fields)
    await decline(client, first, "not_an_incident")
    second = await make_incident(client, title="Queue lag again", **fields)
    assert second["recurrence_of"] is None
    await move(client, second, "resolved")
    third = await make_incident(client, title="Queue lag a third time", **fields)
    assert third["recurrence_of"] == second["id"]  # the same match, not declined
    summary = (await client.get("/api/v1/reports/summary")).json()
    assert summary["recurrences"] == 1


async def test_alertmanager_treats_a_declined_incident_as_closed_for_its_group(client):
    """A declined group's incident takes no more alerts, is neither mitigated nor
    reopened by them, and a new firing opens a fresh incident that repeats nothing."""
    await send(client, FIRING)
    (alarm,) = (await client.get("/api/v1/incidents")).json()["items"]
    declined = (await decline(client, alarm)).json()

    again = await send(client, FIRING)
    assert again.json() == {"status": "duplicate", "opened": [], "updated": []}
    resolved = await send(client, RESOLVED)
    assert resolved.json() == {"status": "accepted", "opened": [], "updated": []}
    assert await read_incident(client, alarm) == declined

    refire = json.loads(FIRING)
    refire["alerts"][0]["startsAt"] = "2026-11-28T15:00:00Z"
    response = await send(client, refire)
    (opened,) = response.json()["opened"]
    assert response.json()["updated"] == []
    fresh = (await client.get(f"/api/v1/incidents/{opened}")).json()
    assert fresh["id"] != alarm["id"]
    assert fresh["status"] == "triggered"
    assert fresh["recurrence_of"] is None
    alerts = (await client.get(f"/api/v1/incidents/{fresh['id']}/alerts")).json()["items"]
    assert {a["fingerprint"] for a in alerts} == {"fc08facb203df495", "3be26ca78bf93158"}
    assert await read_incident(client, alarm) == declined
