"""Merging incidents: one outage opened as several incidents ends as one survivor."""

import asyncio
import copy
import json

import pytest
from sqlalchemy import select

from app.core.events import OutboxEvent
from tests.core.test_errors import assert_problem
from tests.factories import join, make_incident, move, outbox_types, read_incident, timeline
from tests.incidents.test_cause import record_deploy
from tests.integrations.test_alertmanager import FIRING, send


def other_group(fingerprints: tuple[str, str]) -> dict:
    """FIRING as a second Alertmanager group: another alert name, other alerts."""
    body = json.loads(FIRING)
    body["groupKey"] = '{}:{alertname="HighLatency", service="checkout"}'
    body["commonLabels"]["alertname"] = body["groupLabels"]["alertname"] = "HighLatency"
    for alert, fingerprint in zip(body["alerts"], fingerprints, strict=True):
        alert["labels"]["alertname"] = "HighLatency"
        alert["fingerprint"] = fingerprint
    return body


async def merge(client, incident: dict, into: str):
    return await client.post(f"/api/v1/incidents/{incident['id']}/merge", json={"into": into})


async def alerts_of(client, incident: dict) -> list[str]:
    response = await client.get(f"/api/v1/incidents/{incident['id']}/alerts")
    return sorted(a["fingerprint"] for a in response.json()["items"])


async def get(client, incident: dict) -> dict:
    return await read_incident(client, incident)


async def test_two_alert_incidents_merged_into_a_person_opened_one_and_the_next_notification(
    client, database
):
    assert (await send(client, FIRING)).json()["opened"] == ["INC-1"]
    second = other_group(("1111111111111111", "2222222222222222"))
    assert (await send(client, second)).json()["opened"] == ["INC-2"]
    first, latency = [await get(client, {"id": ref}) for ref in ("INC-1", "INC-2")]
    survivor = await make_incident(client, title="Checkout outage", severity="sev1")
    await join(client, first, "alice", "sre")
    await join(client, latency, "bob", "commander")
    await join(client, survivor, "carol", "commander")
    await join(client, survivor, "alice", "developer")
    deploy = await record_deploy(client)
    await client.patch("/api/v1/incidents/INC-1", json={"caused_by_deploy_id": deploy["id"]})
    await move(client, first, "acknowledged")
    originals = await timeline(client, first)

    response = await merge(client, first, survivor["reference"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["incident"]["status"] == "merged"
    assert body["incident"]["merged_into"] == survivor["id"]
    assert body["incident"]["merged_at"] is not None
    assert body["incident"]["allowed_transitions"] == []
    assert body["into"]["id"] == survivor["id"]
    assert body["into"]["caused_by_deploy_id"] == deploy["id"]
    assert body["moved"] == {
        "alerts": 2,
        "participants": 0,  # alice is on the survivor already
        "timeline_entries": len(originals),
        "cause": True,
    }
    assert await get(client, first) == body["incident"]
    response = await merge(client, latency, survivor["id"])
    assert response.status_code == 200, response.text
    assert response.json()["moved"]["participants"] == 1

    # Alerts: all four on the survivor; the merged incidents keep none.
    assert await alerts_of(client, survivor) == sorted(
        ["fc08facb203df495", "3be26ca78bf93158", "1111111111111111", "2222222222222222"]
    )
    assert await alerts_of(client, first) == []
    # People: bob joins as an observer (the survivor has carol as commander); the
    # merged incidents' stints are kept as they were.
    people = (await client.get(f"/api/v1/incidents/{survivor['id']}/participants")).json()
    roles = {p["handle"]: p["role"] for p in people["items"]}
    assert roles == {"carol": "commander", "alice": "developer", "bob": "observer"}
    assert (await get(client, survivor))["commander"] == "carol"
    kept = (await client.get(f"/api/v1/incidents/{latency['id']}/participants")).json()
    assert [(p["handle"], p["left_at"]) for p in kept["items"]] == [("bob", None)]

    # Timelines: copies at their original times, naming where they came from; both
    # sides record the merge.
    entries = await timeline(client, survivor)
    copies = [e for e in entries if e["data"].get("merged_from", {}).get("reference") == "INC-1"]
    assert [(c["kind"], c["occurred_at"], c["author"]) for c in copies] == [
        (o["kind"], o["occurred_at"], o["author"]) for o in originals
    ]
    assert all(c["summary"].startswith("[INC-1] ") for c in copies)
    assert {c["data"]["merged_from"]["entry"] for c in copies} == {o["id"] for o in originals}
    merged_entries = [e for e in entries if e["kind"] == "merged"]
    assert [e["data"]["reference"] for e in merged_entries] == ["INC-1", "INC-2"]
    (last,) = (await timeline(client, first, kind="status_changed"))[-1:]
    assert last["data"] == {"from": "acknowledged", "to": "merged", "into": survivor["id"]}
    assert await timeline(client, first) == [*originals, last]

    async with database.sessionmaker() as session:
        merges = (
            await session.scalars(
                select(OutboxEvent.data)
                .where(OutboxEvent.type == "incident.merged")
                .order_by(OutboxEvent.seq)
            )
        ).all()
    assert [(m["incident"]["reference"], m["into"]["reference"]) for m in merges] == [
        ("INC-1", survivor["reference"]),
        ("INC-2", survivor["reference"]),
    ]
    assert (await outbox_types(database)).count("incident.status_changed") == 3

    # The next notification of a merged group lands on the survivor, new alert included.
    later = json.loads(FIRING)
    fresh = copy.deepcopy(later["alerts"][0]) | {"fingerprint": "aaaaaaaaaaaaaaaa"}
    later["alerts"].append(fresh)
    ack = (await send(client, later)).json()
    assert ack["opened"] == []
    assert ack["updated"] == [survivor["reference"]]
    assert "aaaaaaaaaaaaaaaa" in await alerts_of(client, survivor)
    listed = (await client.get("/api/v1/incidents", params={"limit": 10})).json()["items"]
    assert len(listed) == 3
    assert (await get(client, first))["status"] == "merged"

    # A merged incident is timed as its survivor: never on its own.
    summary = (await client.get("/api/v1/reports/summary")).json()
    assert summary["by_status"]["merged"] == 2
    assert summary["time_to_acknowledge"]["count"] == 0


async def test_a_group_merged_into_an_incident_of_another_group_follows_it(client):
    await send(client, FIRING)
    await send(client, other_group(("1111111111111111", "2222222222222222")))
    into = await get(client, {"id": "INC-2"})
    assert (await merge(client, {"id": "INC-1"}, "INC-2")).status_code == 200
    third = await make_incident(client, title="Checkout outage")
    assert (await merge(client, into, third["reference"])).status_code == 200
    # INC-1's group was routed to INC-2, and follows INC-2 into INC-3.
    later = json.loads(FIRING)
    later["alerts"][0]["fingerprint"] = "aaaaaaaaaaaaaaaa"
    ack = (await send(client, later)).json()
    assert (ack["opened"], ack["updated"]) == ([], [third["reference"]])


async def test_once_the_survivor_is_resolved_the_group_opens_a_new_incident(client):
    await send(client, FIRING)
    survivor = await make_incident(client)
    assert (await merge(client, {"id": "INC-1"}, survivor["reference"])).status_code == 200
    await move(client, survivor, "resolved")
    later = json.loads(FIRING)
    later["alerts"][0]["startsAt"] = "2026-11-28T15:00:00Z"
    ack = (await send(client, later)).json()
    assert ack["opened"] == ["INC-3"]


async def test_refused_merges_are_409_problems_and_change_nothing(client):
    one = await make_incident(client)
    two = await make_incident(client)
    closed = await make_incident(client)
    await move(client, closed, "closed")
    declined = await make_incident(client)
    await client.patch(
        f"/api/v1/incidents/{declined['id']}", json={"status": "declined", "reason": "test"}
    )
    assert (await merge(client, two, one["reference"])).status_code == 200
    before = [await get(client, i) for i in (one, two, closed, declined)]

    cases = [
        (one, one["reference"], "same-incident"),
        (one, one["id"], "same-incident"),
        (one, two["reference"], "merge-target-final"),  # into a merged incident
        (one, closed["reference"], "merge-target-final"),
        (one, declined["reference"], "merge-target-final"),
        (two, one["reference"], "invalid-transition"),  # already merged
        (closed, one["reference"], "invalid-transition"),
    ]
    for incident, into, code in cases:
        problem = assert_problem(await merge(client, incident, into), 409)
        assert problem["type"] == f"urn:muster:problem:{code}", (into, problem)
    problem = assert_problem(await move(client, one, "merged"), 409)  # only by merging
    assert "merged" not in problem["allowed"]
    assert [await get(client, i) for i in (one, two, closed, declined)] == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"into": "INC-999"}, 422),
        ({"into": "not-an-incident"}, 422),
        ({"into": ""}, 422),
        ({"into": "x" * 65}, 422),
        ({}, 422),
        ({"into": 3}, 422),
        ({"into": "INC-1", "also": 1}, 422),
    ],
)
async def test_a_bad_merge_body_is_a_problem(client, body, status):
    incident = await make_incident(client)
    response = await client.post(f"/api/v1/incidents/{incident['id']}/merge", json=body)
    assert_problem(response, status)
    assert (await get(client, incident))["status"] == "triggered"


async def test_concurrent_merges_of_the_same_pair_are_settled_by_the_database(client):
    for _ in range(3):
        one, two = await make_incident(client), await make_incident(client)
        responses = await asyncio.gather(
            merge(client, one, two["reference"]),
            merge(client, two, one["reference"]),
            merge(client, one, two["id"]),
        )
        assert sorted(r.status_code for r in responses) == [200, 409, 409], [
            r.text for r in responses
        ]
        statuses = sorted([(await get(client, one))["status"], (await get(client, two))["status"]])
        assert statuses == ["merged", "triggered"]
        survivor = one if (await get(client, two))["status"] == "merged" else two
        assert len(await timeline(client, survivor, kind="merged")) == 1
