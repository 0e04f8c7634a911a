"""Concurrent clients on one incident: the database settles who wins (run on both backends)."""

import asyncio

from tests.factories import join, make_incident, move, timeline


async def test_concurrent_creates_get_distinct_gap_free_numbers(client):
    responses = await asyncio.gather(
        *(client.post("/api/v1/incidents", json={"title": f"storm {n}"}) for n in range(20))
    )
    assert [r.status_code for r in responses] == [201] * 20
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == list(range(numbers[0], numbers[0] + 20))
    assert len({r.json()["reference"] for r in responses}) == 20


async def test_concurrent_identical_transitions_succeed_once(client):
    incident = await make_incident(client)
    responses = await asyncio.gather(*(move(client, incident, "acknowledged") for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [200] + [409] * 9
    assert len(await timeline(client, incident, kind="status_changed")) == 1


async def test_concurrent_patches_with_the_same_if_match_succeed_once(client):
    incident = await make_incident(client)
    tag = (await client.get(f"/api/v1/incidents/{incident['id']}")).headers["etag"]
    responses = await asyncio.gather(
        *(
            client.patch(
                f"/api/v1/incidents/{incident['id']}",
                json={"title": f"t{n}"},
                headers={"If-Match": tag},
            )
            for n in range(8)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] + [412] * 7
    winner = next(r.json()["title"] for r in responses if r.status_code == 200)
    assert (await client.get(f"/api/v1/incidents/{incident['id']}")).json()["title"] == winner


async def test_concurrent_joins_of_one_handle_make_one_active_stint(client):
    incident = await make_incident(client)
    url = f"/api/v1/incidents/{incident['id']}/participants"
    responses = await asyncio.gather(
        *(client.post(url, json={"handle": "alice", "role": "sre"}) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert len((await client.get(url, params={"active": "true"})).json()["items"]) == 1


async def test_concurrent_checklist_toggles_end_in_a_serial_state(client):
    incident = await make_incident(client)
    url = f"/api/v1/incidents/{incident['id']}/checklist/stakeholders_notified"
    responses = await asyncio.gather(
        *(client.patch(url, json={"done": n % 2 == 0, "by": f"p{n}"}) for n in range(10))
    )
    assert all(r.status_code == 200 for r in responses)
    final = next(
        i
        for i in (await client.get(f"/api/v1/incidents/{incident['id']}/checklist")).json()["items"]
        if i["key"] == "stakeholders_notified"
    )
    # whatever order the database chose, done and done_by agree with one another
    assert (final["done_by"] is not None) == final["done"]
    entries = await timeline(client, incident, kind="checklist")
    assert entries[-1]["data"]["done"] == final["done"]


async def test_concurrent_commander_changes_leave_exactly_one_commander(client):
    incident = await make_incident(client)
    people = [await join(client, incident, f"c{n}", "sre") for n in range(5)]
    url = f"/api/v1/incidents/{incident['id']}/participants"
    await asyncio.gather(
        *(client.patch(f"{url}/{p['id']}", json={"role": "commander"}) for p in people)
    )
    roles = [p["role"] for p in (await client.get(url)).json()["items"]]
    assert roles.count("commander") == 1
    commander = next(
        p["handle"] for p in (await client.get(url)).json()["items"] if p["role"] == "commander"
    )
    assert (await client.get(f"/api/v1/incidents/{incident['id']}")).json()[
        "commander"
    ] == commander


async def test_concurrent_patches_of_different_fields_lose_no_update(client):
    """Without If-Match each PATCH applies to the current row: no change is lost."""
    incident = await make_incident(client, severity="sev3", services=["checkout"])
    url = f"/api/v1/incidents/{incident['id']}"
    version = int((await client.get(url)).headers["etag"].strip('"').rsplit(".", 1)[1])
    changes = [
        {"title": "Checkout down"},
        {"summary": "502s from the gateway"},
        {"severity": "sev1"},
        {"services": ["checkout", "gateway"]},
        {"labels": {"region": "eu-west-1"}},
        {"status": "acknowledged"},
    ]
    responses = await asyncio.gather(*(client.patch(url, json=change) for change in changes))
    assert [r.status_code for r in responses] == [200] * len(changes)
    final = (await client.get(url)).json()
    for change in changes:  # every change is in the end state, whatever the order
        for name, value in change.items():
            assert final[name] == value, (name, final[name])
    # each PATCH saw its own version: a serial order of the six, none applied twice
    seen = sorted(int(r.headers["etag"].strip('"').rsplit(".", 1)[1]) for r in responses)
    assert seen == list(range(version + 1, version + 1 + len(changes)))
    assert len(await timeline(client, incident, kind="severity_changed")) == 1
    assert len(await timeline(client, incident, kind="status_changed")) == 1
