"""Action items: created, changed and rolled out per service, through the HTTP API."""

import asyncio

import pytest

from tests.auth.test_api_keys import create_key
from tests.core.test_errors import assert_problem
from tests.factories import make_incident, timeline
from tests.postmortems.helpers import add_item, events, patch_item, rollout, snapshot


@pytest.mark.usefixtures("clock")
async def test_an_action_item_is_created_with_its_rollout_and_recorded(client, database):
    incident = await make_incident(client, services=["checkout"])
    response = await client.post(
        f"/api/v1/incidents/{incident['reference']}/action-items",
        json={
            "title": "Alert on pool saturation",
            "description": "Page above 90% for 5 minutes",
            "kind": "detect",
            "owner": "alice",
            "due": "2026-03-20",
            "tracker_url": "https://tracker.example.com/browse/OPS-12",
            "external_id": "OPS-12",
            "rollout": [{"service": "checkout", "status": "in_progress"}, {"service": "payments"}],
        },
    )
    assert response.status_code == 201, response.text
    item = response.json()
    assert response.headers["location"] == f"/api/v1/action-items/{item['id']}"
    assert item | {"id": None, "rollout": None} == {
        "id": None,
        "incident_id": incident["id"],
        "incident_reference": incident["reference"],
        "title": "Alert on pool saturation",
        "description": "Page above 90% for 5 minutes",
        "kind": "detect",
        "owner": "alice",
        "due": "2026-03-20",
        "status": "open",
        "overdue": False,
        "tracker_url": "https://tracker.example.com/browse/OPS-12",
        "external_id": "OPS-12",
        "addresses": None,
        "rollout": None,
        "created_at": "2026-03-02T09:00:00Z",
        "updated_at": "2026-03-02T09:00:00Z",
        "completed_at": None,
    }
    assert item["rollout"] == [
        {
            "service": "checkout",
            "status": "in_progress",
            "note": None,
            "updated_at": "2026-03-02T09:00:00Z",
        },
        {
            "service": "payments",
            "status": "pending",
            "note": None,
            "updated_at": "2026-03-02T09:00:00Z",
        },
    ]
    assert (await client.get(response.headers["location"])).json() == item

    (entry,) = await timeline(client, incident, kind="action_item")
    assert entry["summary"] == (
        "Action item added: Alert on pool saturation "
        "(detect; owner alice; due 2026-03-20; rollout to checkout, payments)"
    )
    assert entry["generated"] is True
    assert entry["data"]["action_item_id"] == item["id"]
    (event,) = await events(database, "action_item.updated")
    assert event["action_item"] == item
    assert event["incident"]["reference"] == incident["reference"]
    assert event["changes"]["created"] is True

    edit = await client.patch(
        f"/api/v1/incidents/{incident['id']}/timeline/{entry['id']}", json={"summary": "x"}
    )
    assert_problem(edit, 409)


async def test_patch_upserts_the_rollout_per_service_and_keeps_the_rest(client, database, clock):
    incident = await make_incident(client)
    item = await add_item(
        client,
        incident,
        rollout=[
            {"service": "checkout", "status": "in_progress", "note": "canary"},
            {"service": "payments"},
            {"service": "search"},
        ],
    )
    clock.advance(minutes=10)
    changed = await patch_item(
        client,
        item,
        rollout=[
            {"service": "checkout", "status": "done"},
            {"service": "payments", "note": "waits for v3"},
            {"service": "billing", "status": "not_applicable"},
            {"service": "search", "remove": True},
            {"service": "never-there", "remove": True},
        ],
    )
    assert rollout(changed) == {
        "billing": "not_applicable",
        "checkout": "done",
        "payments": "pending",
    }
    notes = {r["service"]: (r["note"], r["updated_at"]) for r in changed["rollout"]}
    assert notes == {
        "billing": (None, "2026-03-02T09:10:00Z"),
        "checkout": ("canary", "2026-03-02T09:10:00Z"),
        "payments": ("waits for v3", "2026-03-02T09:10:00Z"),
    }
    assert changed["updated_at"] == "2026-03-02T09:10:00Z"
    entries = await timeline(client, incident, kind="action_item")
    assert entries[-1]["summary"] == (
        "Action item Alert on pool saturation: rollout checkout: in_progress → done; "
        "rollout payments: note changed; rollout billing: added → not_applicable; "
        "rollout search: pending → removed"
    )
    assert entries[-1]["data"]["changes"]["rollout"]["search"] == {"from": "pending", "to": None}

    clock.advance(minutes=5)
    cleared = await patch_item(client, item, rollout=[{"service": "payments", "note": None}])
    assert [r["note"] for r in cleared["rollout"] if r["service"] == "payments"] == [None]
    assert rollout(cleared) == rollout(changed)

    before = await snapshot(database)
    same = await patch_item(client, item, rollout=[{"service": "checkout", "status": "done"}])
    assert same == cleared
    assert await snapshot(database) == before, "a PATCH that changes nothing records nothing"


async def test_status_moves_stamp_completion_and_fields_change(client, database, clock):
    incident = await make_incident(client)
    item = await add_item(client, incident, owner="alice", due="2026-03-10")
    clock.advance(hours=1)
    done = await patch_item(client, item, status="done", owner="bob", due=None, kind="process")
    assert (done["status"], done["owner"], done["due"], done["kind"]) == (
        "done",
        "bob",
        None,
        "process",
    )
    assert done["completed_at"] == "2026-03-02T10:00:00Z"
    clock.advance(hours=1)
    wont = await patch_item(client, item, status="wont_do")
    assert wont["completed_at"] == "2026-03-02T10:00:00Z", "still finished: stamp kept"
    reopened = await patch_item(client, item, status="in_progress", description="again")
    assert (reopened["completed_at"], reopened["description"]) == (None, "again")
    summaries = [e["summary"] for e in await timeline(client, incident, kind="action_item")]
    assert summaries[1:] == [
        "Action item Alert on pool saturation: kind detect → process; owner alice → bob; "
        "due 2026-03-10 → —; status open → done",
        "Action item Alert on pool saturation: status done → wont_do",
        "Action item Alert on pool saturation: description changed; status wont_do → in_progress",
    ]
    assert len(await events(database, "action_item.updated")) == 4


async def test_items_of_an_incident_are_listed_oldest_first_in_pages(client, clock):
    incident = await make_incident(client)
    other = await make_incident(client, title="Other")
    titles = []
    for n in range(3):
        clock.advance(minutes=1)
        titles.append((await add_item(client, incident, title=f"Item {n}"))["title"])
    await add_item(client, other, title="Elsewhere")
    url = f"/api/v1/incidents/{incident['id']}/action-items"
    first = (await client.get(url, params={"limit": 2})).json()
    second = (await client.get(url, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [i["title"] for i in first["items"] + second["items"]] == titles
    assert second["next_cursor"] is None


async def test_listing_across_incidents_filters_by_status_owner_kind_rollout_and_overdue(
    client, clock
):
    first = await make_incident(client, services=["checkout"])
    second = await make_incident(client, title="Payments down", services=["payments"])
    await add_item(
        client,
        first,
        title="A",
        kind="prevent",
        owner="alice",
        due="2026-03-01",
        rollout=[{"service": "checkout", "status": "done"}, {"service": "payments"}],
    )
    clock.advance(minutes=1)
    await add_item(
        client,
        second,
        title="B",
        kind="detect",
        owner="bob",
        due="2026-03-02",
        rollout=[{"service": "payments", "status": "in_progress"}],
    )
    clock.advance(minutes=1)
    await add_item(client, second, title="C", kind="process", due="2026-02-01", status="done")
    clock.advance(minutes=1)
    await add_item(client, first, title="D", kind="prevent", owner="alice")

    async def titles(**params: object) -> list[str]:
        response = await client.get("/api/v1/action-items", params=params)
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["items"]]

    assert await titles() == ["D", "C", "B", "A"]
    page = (await client.get("/api/v1/action-items", params={"limit": 3})).json()
    rest = await titles(limit=3, cursor=page["next_cursor"])
    assert ([i["title"] for i in page["items"]], rest) == (["D", "C", "B"], ["A"])
    assert await titles(status=["open"]) == ["D", "B", "A"]
    assert await titles(status=["done", "wont_do"]) == ["C"]
    assert await titles(owner="alice") == ["D", "A"]
    assert await titles(kind=["detect", "process"]) == ["C", "B"]
    assert await titles(rollout_service="payments") == ["B", "A"]
    assert await titles(rollout_service="checkout") == ["A"]
    assert await titles(rollout_service="payments", rollout_status="pending") == ["A"]
    assert await titles(rollout_status="in_progress") == ["B"]
    assert await titles(overdue="true") == ["A"], "B is due today; C is done"
    assert await titles(overdue="false") == ["D", "C", "B"]
    clock.advance(days=1)
    assert await titles(overdue="true", owner="bob") == ["B"]
    listed = (await client.get("/api/v1/action-items", params={"overdue": "true"})).json()
    assert {i["title"]: i["overdue"] for i in listed["items"]} == {"B": True, "A": True}
    assert {i["title"]: i["incident_reference"] for i in listed["items"]} == {
        "A": first["reference"],
        "B": second["reference"],
    }


BAD_CREATES = [
    {"kind": "detect"},
    {"title": "   "},
    {"title": "x" * 301},
    {"title": "x", "kind": "fix"},
    {"title": "x", "status": "closed"},
    {"title": "x", "due": 1767225600},
    {"title": "x", "due": "next week"},
    {"title": "x", "rollout": [{"service": "a"}, {"service": "a"}]},
    {"title": "x", "rollout": [{"service": "a", "status": "shipped"}]},
    {"title": "x", "rollout": [{"service": "a", "remove": True}]},
    {"title": "x", "rollout": [{"service": ""}]},
    {"title": "x", "colour": "red"},
]


@pytest.mark.parametrize("body", BAD_CREATES)
async def test_bad_action_items_are_refused_and_change_nothing(client, database, body):
    incident = await make_incident(client)
    before = await snapshot(database)
    response = await client.post(f"/api/v1/incidents/{incident['id']}/action-items", json=body)
    assert_problem(response, 422)
    assert await snapshot(database) == before


BAD_PATCHES = [
    {"title": None},
    {"kind": None},
    {"status": None},
    {"rollout": None},
    {"status": "finished"},
    {"due": "2026-13-01"},
    {"rollout": [{"service": "a", "remove": True, "status": "done"}]},
    {"rollout": [{"service": "a", "remove": True, "note": "x"}]},
    {"rollout": [{"service": "a"}, {"service": "a", "remove": True}]},
    {"rollout": [{"status": "done"}]},
    {"incident_id": "00000000-0000-0000-0000-000000000000"},
]


@pytest.mark.parametrize("body", BAD_PATCHES)
async def test_bad_changes_are_refused_and_change_nothing(client, database, body):
    incident = await make_incident(client)
    item = await add_item(client, incident, rollout=[{"service": "a"}])
    before = await snapshot(database)
    response = await client.patch(f"/api/v1/action-items/{item['id']}", json=body)
    assert_problem(response, 422)
    assert await snapshot(database) == before
    assert (await client.get(f"/api/v1/action-items/{item['id']}")).json() == item


async def test_unknown_items_and_incidents_are_404_and_bad_queries_422(client, database):
    missing = "00000000-0000-0000-0000-000000000000"
    assert_problem(await client.get(f"/api/v1/action-items/{missing}"), 404)
    assert_problem(await client.patch(f"/api/v1/action-items/{missing}", json={}), 404)
    assert_problem(await client.get("/api/v1/action-items/not-a-uuid"), 422)
    assert_problem(
        await client.post("/api/v1/incidents/INC-999/action-items", json={"title": "x"}), 404
    )
    assert_problem(await client.get("/api/v1/incidents/INC-999/action-items"), 404)
    for params in ({"status": "bogus"}, {"overdue": "maybe"}, {"kind": "fix"}, {"cursor": "x"}):
        assert_problem(await client.get("/api/v1/action-items", params=params), 422)
    assert await snapshot(database) == dict.fromkeys(await snapshot(database), 0)


async def test_reading_needs_incidents_read_and_writing_incidents_write(client, anon_client):
    incident = await make_incident(client)
    item = await add_item(client, incident)
    reader = {"Authorization": f"Bearer {(await create_key(client, 'incidents:read'))['key']}"}
    deployer = {"Authorization": f"Bearer {(await create_key(client, 'deploys:write'))['key']}"}
    items_url = f"/api/v1/incidents/{incident['id']}/action-items"
    item_url = f"/api/v1/action-items/{item['id']}"

    assert (await anon_client.get(item_url, headers=reader)).status_code == 200
    assert (await anon_client.get("/api/v1/action-items", headers=reader)).status_code == 200
    assert (await anon_client.get(items_url, headers=reader)).status_code == 200
    assert_problem(await anon_client.post(items_url, json={"title": "x"}, headers=reader), 403)
    assert_problem(await anon_client.patch(item_url, json={"status": "done"}, headers=reader), 403)
    assert_problem(await anon_client.get(item_url, headers=deployer), 403)
    assert_problem(await anon_client.get(item_url), 401)
    assert_problem(await anon_client.post(items_url, json={"title": "x"}), 401)
    assert (await client.get(item_url)).json()["status"] == "open"
    assert len((await client.get(items_url)).json()["items"]) == 1


async def test_idempotency_key_replays_the_first_creation(client, database):
    incident = await make_incident(client)
    url = f"/api/v1/incidents/{incident['id']}/action-items"
    headers = {"Idempotency-Key": "retro-1"}
    first = await client.post(url, json={"title": "Add alert"}, headers=headers)
    again = await client.post(url, json={"title": "Add alert"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert_problem(await client.post(url, json={"title": "Other"}, headers=headers), 409)
    assert (await snapshot(database))["action_items"] == 1


async def test_concurrent_changes_to_one_rollout_keep_one_row_per_service(client, database):
    incident = await make_incident(client)
    item = await add_item(client, incident)
    url = f"/api/v1/action-items/{item['id']}"
    answers = await asyncio.gather(
        *(
            client.patch(url, json={"rollout": [{"service": "payments", "status": status}]})
            for status in ("in_progress", "done", "not_applicable")
        )
    )
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert (await snapshot(database))["action_item_rollouts"] == 1
    final = (await client.get(url)).json()
    assert [r["service"] for r in final["rollout"]] == ["payments"]
    summaries = [e["summary"] for e in await timeline(client, incident, kind="action_item")]
    assert len(summaries) == 4
    assert sum("payments: added →" in s for s in summaries) == 1, "added once, then changed"
