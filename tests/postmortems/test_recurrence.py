"""Recurrences: a new incident repeating an earlier one is linked, with the earlier fixes."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.incidents.recurrence import RECENT
from tests.core.test_errors import assert_problem
from tests.factories import make_incident, move, timeline
from tests.integrations.test_alertmanager import send
from tests.postmortems.helpers import add_item, events


def notification(group: str, *alerts: tuple[str, str, str]) -> dict[str, Any]:
    """An Alertmanager notification of `group` with (fingerprint, alertname, service) alerts."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "muster",
        "groupKey": group,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.test",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "service": service, "severity": "error"},
                "annotations": {"summary": f"{name} on {service}"},
                "startsAt": "2026-03-01T23:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint,
            }
            for fingerprint, name, service in alerts
        ],
    }


async def open_from_alertmanager(client: httpx.AsyncClient, payload: dict) -> dict[str, Any]:
    response = await send(client, payload)
    assert response.status_code == 200, response.text
    (reference,) = response.json()["opened"]
    return dict((await client.get(f"/api/v1/incidents/{reference}")).json())


async def recurrence_entries(client: httpx.AsyncClient, incident: dict) -> list[str]:
    entries = await timeline(client, incident, kind="incident_updated")
    return [e["summary"] for e in entries if e["summary"].startswith("Recurrence of")]


@pytest.fixture
def lookback(app: FastAPI) -> Iterator[Any]:
    original = app.state.settings

    def set_days(days: int) -> None:
        app.state.settings = original.model_copy(update={"recurrence_lookback_days": days})

    yield set_days
    app.state.settings = original


async def test_a_recurrence_on_two_services_shows_where_the_fixes_reached(client, database, clock):
    first = await open_from_alertmanager(
        client, notification("g-1", ("fp-1", "HighErrorRate", "checkout"))
    )
    assert first["services"] == ["checkout"]
    await move(client, first, "resolved")
    reached_both = await add_item(
        client,
        first,
        title="Retry budget",
        rollout=[
            {"service": "checkout", "status": "done"},
            {"service": "payments", "status": "in_progress"},
        ],
    )
    clock.advance(minutes=1)
    await add_item(
        client, first, title="Runbook", rollout=[{"service": "search", "status": "done"}]
    )
    clock.advance(minutes=1)
    await add_item(
        client, first, title="Pool alert", rollout=[{"service": "payments", "status": "done"}]
    )
    clock.advance(days=1)

    second = await open_from_alertmanager(
        client,
        notification(
            "g-2", ("fp-2", "HighErrorRate", "checkout"), ("fp-3", "HighErrorRate", "payments")
        ),
    )
    assert second["services"] == ["checkout", "payments"]
    assert second["recurrence_of"] == first["id"]
    (entry,) = await timeline(client, second, kind="incident_updated")
    assert (entry["summary"], entry["author"]) == (
        "Recurrence of INC-1 (HighErrorRate on checkout)",
        "alertmanager",
    )
    assert entry["data"]["recurrence_of"] == first["id"]
    updates = [
        e for e in await events(database, "incident.updated") if "recurrence_of" in e["changes"]
    ]
    assert [(u["incident"]["reference"], u["changes"]["recurrence_of"]["to"]) for u in updates] == [
        ("INC-2", first["id"])
    ]

    response = await client.get(f"/api/v1/incidents/{second['reference']}/recurrence")
    assert response.status_code == 200
    view = response.json()
    assert view["incident"]["reference"] == "INC-2"
    assert {k: view["recurrence_of"][k] for k in ("id", "reference", "title", "status")} == {
        "id": first["id"],
        "reference": "INC-1",
        "title": "HighErrorRate on checkout",
        "status": "resolved",
    }
    assert view["recurrence_of"]["started_at"] == "2026-03-01T23:00:00Z"
    assert view["recurrence_of"]["resolved_at"] == "2026-03-02T09:00:00Z"
    assert {i["title"]: i["reached"] for i in view["action_items"]} == {
        "Retry budget": {"checkout": True, "payments": False},
        "Runbook": {"checkout": None, "payments": None},
        "Pool alert": {"checkout": None, "payments": True},
    }

    await client.patch(
        f"/api/v1/action-items/{reached_both['id']}",
        json={"rollout": [{"service": "payments", "status": "done"}]},
    )
    view = (await client.get(f"/api/v1/incidents/{second['id']}/recurrence")).json()
    assert view["action_items"][0]["reached"] == {"checkout": True, "payments": True}


async def test_only_the_same_alert_on_a_shared_service_or_fingerprint_matches(client, clock):
    first = await open_from_alertmanager(
        client, notification("g-1", ("fp-1", "HighErrorRate", "checkout"))
    )
    await move(client, first, "closed")
    other_name = await open_from_alertmanager(
        client, notification("g-2", ("fp-2", "HighLatency", "checkout"))
    )
    other_service = await open_from_alertmanager(
        client, notification("g-3", ("fp-3", "HighErrorRate", "search"))
    )
    assert (other_name["recurrence_of"], other_service["recurrence_of"]) == (None, None)
    assert await recurrence_entries(client, other_name) == []

    clock.advance(hours=1)
    same_fingerprint = await open_from_alertmanager(
        client, notification("g-4", ("fp-1", "Renamed", "elsewhere"))
    )
    assert same_fingerprint["recurrence_of"] == first["id"]

    await move(client, other_service, "resolved")
    repeat = await open_from_alertmanager(
        client, notification("g-3", ("fp-5", "HighErrorRate", "search"))
    )
    assert repeat["recurrence_of"] == other_service["id"], "the group rule links it first"
    assert await recurrence_entries(client, repeat) == [], "and no second link is recorded"


async def test_incidents_opened_through_the_api_match_by_their_alertname_label(
    client, clock, lookback
):
    alerted = await open_from_alertmanager(client, notification("g-1", ("fp-1", "DiskFull", "db")))
    clock.advance(days=10)
    by_hand = await make_incident(
        client, labels={"alertname": "DiskFull"}, services=["cache", "db"], title="Disk again"
    )
    assert by_hand["recurrence_of"] == alerted["id"]
    assert await recurrence_entries(client, by_hand) == ["Recurrence of INC-1 (DiskFull on db)"]
    stored = (await client.get(f"/api/v1/incidents/{by_hand['id']}")).json()
    assert stored["recurrence_of"] == alerted["id"]

    clock.advance(days=31)
    unlabelled = await make_incident(client, services=["db"], title="Disk, no label")
    assert unlabelled["recurrence_of"] is None
    lookback(30)
    too_late = await make_incident(client, labels={"alertname": "DiskFull"}, services=["db"])
    assert too_late["recurrence_of"] is None, "the last DiskFull started 31 days ago"
    lookback(90)
    linked = await make_incident(client, labels={"alertname": "DiskFull"}, services=["db"])
    assert linked["recurrence_of"] == too_late["id"], "the most recent match wins"

    clock.advance(hours=1)
    from_alerts = await open_from_alertmanager(
        client, notification("g-9", ("fp-9", "DiskFull", "cache"))
    )
    assert from_alerts["recurrence_of"] == by_hand["id"], "the latest one sharing `cache`"


async def test_an_incident_that_repeats_nothing_has_an_empty_recurrence(client, anon_client):
    incident = await make_incident(client)
    view = (await client.get(f"/api/v1/incidents/{incident['id']}/recurrence")).json()
    assert view["recurrence_of"] is None
    assert view["action_items"] == []
    assert view["incident"]["id"] == incident["id"]
    assert_problem(await client.get("/api/v1/incidents/INC-404/recurrence"), 404)
    assert_problem(await anon_client.get(f"/api/v1/incidents/{incident['id']}/recurrence"), 401)


async def test_a_name_is_matched_past_the_newest_incidents_and_among_them(client):
    """The look-up by alert name tries the newest incidents first (`RECENT`), then all:
    a match older than those is still found, and a newer one wins over it."""
    oldest = await open_from_alertmanager(client, notification("g-old", ("fp-a", "DiskFull", "db")))
    for n in range(RECENT):  # as many newer incidents, none of them on db
        await make_incident(client, title=f"unrelated {n}", services=["web"])
    past = await open_from_alertmanager(client, notification("g-past", ("fp-b", "DiskFull", "db")))
    assert past["recurrence_of"] == oldest["id"]
    among = await open_from_alertmanager(client, notification("g-new", ("fp-c", "DiskFull", "db")))
    assert among["recurrence_of"] == past["id"]
    # And the same for an incident opened by hand with the `alertname` label.
    by_hand = await make_incident(
        client,
        title="disk again",
        services=["db"],
        labels={"alertname": "DiskFull"},
        started_at="2026-03-02T00:00:00Z",  # within the look-back of the alerts' start
    )
    detail = (await client.get(f"/api/v1/incidents/{by_hand['id']}")).json()
    assert detail["recurrence_of"] == among["id"]
