import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.core.test_errors import assert_problem
from tests.factories import make_incident, outbox_types, timeline


def _url(incident, suffix=""):
    return f"/api/v1/incidents/{incident['id']}/timeline{suffix}"


async def test_people_add_entries_and_backdated_ones_sort_in_place(client, database):
    incident = await make_incident(client)
    late = await client.post(
        _url(incident), json={"kind": "action", "summary": "Restarted pods", "author": "alice"}
    )
    assert late.status_code == 201
    assert late.headers["location"].endswith(late.json()["id"])
    backdated = datetime.now(UTC) - timedelta(hours=1)
    early = await client.post(
        _url(incident),
        json={
            "kind": "observation",
            "summary": "Error rate rose",
            "occurred_at": backdated.isoformat(),
        },
    )
    assert early.json()["author"] == "service:bootstrap-admin"
    summaries = [e["summary"] for e in await timeline(client, incident)]
    assert summaries.index("Error rate rose") < summaries.index("Restarted pods")
    assert summaries[0] == "Error rate rose"
    assert (await outbox_types(database)).count("timeline.event_added") == 3


async def test_same_time_entries_keep_insertion_order_across_pages(client):
    incident = await make_incident(client)
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    for n in range(5):
        await client.post(_url(incident), json={"summary": f"e{n}", "occurred_at": at})
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(_url(incident), params=params)).json()
        seen += [e["summary"] for e in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen[:5] == [f"e{n}" for n in range(5)]


async def test_filter_by_kind(client):
    incident = await make_incident(client)
    await client.post(_url(incident), json={"kind": "decision", "summary": "No rollback"})
    await client.post(_url(incident), json={"kind": "note", "summary": "fyi"})
    decisions = await timeline(client, incident, kind="decision")
    assert [e["summary"] for e in decisions] == ["No rollback"]
    both = await timeline(client, incident, kind=["decision", "incident_created"])
    assert [e["kind"] for e in both] == ["incident_created", "decision"]


async def test_a_filtered_timeline_pages_within_its_incident(client):
    incident, other = await make_incident(client), await make_incident(client)
    for n in range(5):
        kind = "decision" if n % 2 == 0 else "note"
        await client.post(_url(incident), json={"kind": kind, "summary": f"e{n}"})
        await client.post(_url(other), json={"kind": "decision", "summary": f"other {n}"})
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 1, "kind": "decision"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(_url(incident), params=params)).json()
        seen += [e["summary"] for e in page["items"]]
        pages += 1
        if not (cursor := page["next_cursor"]):
            break
    assert seen == ["e0", "e2", "e4"]
    assert pages == 3


async def test_a_timeline_is_read_by_id_or_reference_and_only_an_incidents_own(client, anon_client):
    incident, other = await make_incident(client), await make_incident(client)
    await client.post(_url(other), json={"summary": "theirs"})
    by_id = (await client.get(_url(incident))).json()
    by_reference = (await client.get(f"/api/v1/incidents/{incident['reference']}/timeline")).json()
    assert by_reference == by_id
    assert [e["kind"] for e in by_id["items"]] == ["incident_created"]
    # An existing incident's empty page is a page; an unknown incident is a 404.
    empty = await client.get(_url(incident), params={"kind": "decision"})
    assert empty.json() == {"items": [], "next_cursor": None}
    for unknown in (str(uuid.uuid4()), "INC-999999"):
        assert_problem(await client.get(f"/api/v1/incidents/{unknown}/timeline"), 404)
        assert_problem(
            await client.get(f"/api/v1/incidents/{unknown}/timeline", params={"kind": "note"}), 404
        )
    # The caller is checked before the incident is looked up.
    assert_problem(await anon_client.get(f"/api/v1/incidents/{uuid.uuid4()}/timeline"), 401)


async def test_people_entries_can_be_corrected_and_deleted(client):
    incident = await make_incident(client)
    entry = (await client.post(_url(incident), json={"summary": "Scaled to 6"})).json()
    fixed = await client.patch(
        _url(incident, f"/{entry['id']}"), json={"summary": "Scaled to 12", "kind": "action"}
    )
    assert fixed.status_code == 200
    assert (fixed.json()["summary"], fixed.json()["kind"]) == ("Scaled to 12", "action")
    assert fixed.json()["updated_at"] is not None
    assert (await client.delete(_url(incident, f"/{entry['id']}"))).status_code == 204
    assert [e["summary"] for e in await timeline(client, incident)] == [
        f"{incident['reference']} opened: Checkout errors (sev2)"
    ]


async def test_generated_entries_are_read_only(client):
    incident = await make_incident(client)
    generated = (await timeline(client, incident))[0]
    assert generated["generated"] is True
    assert_problem(
        await client.patch(_url(incident, f"/{generated['id']}"), json={"summary": "x"}), 409
    )
    assert_problem(await client.delete(_url(incident, f"/{generated['id']}")), 409)
    assert (await timeline(client, incident))[0] == generated


async def test_bad_entries_are_refused(client):
    incident = await make_incident(client)
    other = await make_incident(client)
    foreign = (await client.post(_url(other), json={"summary": "theirs"})).json()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for body, field in [
        ({}, "body.summary"),
        ({"summary": ""}, "body.summary"),
        ({"summary": "x", "kind": "status_changed"}, "body.kind"),
        ({"summary": "x", "occurred_at": future}, "body.occurred_at"),
        ({"summary": "x", "occurred_at": "2026-11-28T10:00:00"}, "body.occurred_at"),
        ({"summary": "x" * 501}, "body.summary"),
        ({"summary": "x", "data": {"n": [-(2**63) - 1]}}, "body.data"),
        ({"summary": "x", "data": {"n": 2**64}}, "body.data"),
        ({"summary": "x", "data": {"k": "x" * 64 * 1024}}, "body.data"),
        ({"summary": "x", "data": _nested(17)}, "body.data"),
    ]:
        problem = assert_problem(await client.post(_url(incident), json=body), 422)
        assert field in [e["field"] for e in problem["errors"]], body
    assert_problem(
        await client.patch(_url(incident, f"/{foreign['id']}"), json={"summary": "mine"}), 404
    )
    assert len(await timeline(client, incident)) == 1


def _nested(levels: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for _ in range(levels - 1):
        data = {"k": data}
    return data


async def test_listed_entries_are_exactly_what_was_returned_on_creation(client):
    incident = await make_incident(client)
    data = {"k": [1], "limits": [-(2**63), 2**64 - 1], "deep": _nested(15)}
    created = (
        await client.post(_url(incident), json={"kind": "action", "summary": "x", "data": data})
    ).json()
    assert created["data"] == data
    listed = (await timeline(client, incident, kind="action"))[0]
    assert listed == created
    assert list(listed) == list(created)
