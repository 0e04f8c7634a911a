"""Relations between incidents: each side reads its own direction; the timeline remembers."""

import asyncio

import pytest

from tests.core.test_errors import assert_problem
from tests.factories import make_incident, timeline


async def relate(client, incident: dict, other: str, kind: str, **headers: str):
    return await client.post(
        f"/api/v1/incidents/{incident['id']}/relations",
        json={"incident": other, "kind": kind},
        headers=headers,
    )


async def relations(client, incident: dict) -> list[tuple[str, str]]:
    response = await client.get(f"/api/v1/incidents/{incident['id']}/relations")
    assert response.status_code == 200, response.text
    return [(r["incident"]["reference"], r["kind"]) for r in response.json()]


async def test_a_relation_reads_mirrored_from_the_other_side_and_deleting_it_is_remembered(
    client,
):
    db, checkout, search = [await make_incident(client, title=t) for t in ("db", "co", "se")]
    response = await relate(
        client, checkout, db["reference"], "caused_by", **{"Muster-Acting-For": "Alice"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["incident"]["id"] == db["id"]
    assert created["kind"] == "caused_by"
    assert created["created_by"] == "alice"  # the request's actor, normalised
    assert (await relate(client, search, checkout["id"], "related")).status_code == 201

    assert await relations(client, checkout) == [("INC-1", "caused_by"), ("INC-3", "related")]
    assert await relations(client, db) == [("INC-2", "causes")]
    assert await relations(client, search) == [("INC-2", "related")]
    entry = (await timeline(client, db, kind="relation"))[0]
    assert entry["summary"] == "Relation added: INC-1 causes INC-2"
    assert entry["author"] == "alice"
    assert entry["data"]["action"] == "added"

    url = f"/api/v1/incidents/{db['reference']}/relations/{checkout['reference']}"
    assert (await client.delete(url)).status_code == 204
    assert await relations(client, db) == []
    assert await relations(client, checkout) == [("INC-3", "related")]
    kept = await timeline(client, db, kind="relation")
    assert [(e["data"]["action"], e["summary"]) for e in kept] == [
        ("added", "Relation added: INC-1 causes INC-2"),
        ("removed", "Relation removed: INC-1 causes INC-2"),
    ]
    removed = (await timeline(client, checkout, kind="relation"))[-1]
    assert removed["summary"] == "Relation removed: INC-2 is caused by INC-1"
    assert removed["data"] == {
        "action": "removed",
        "kind": "caused_by",
        "incident": db["id"],
        "reference": "INC-1",
    }
    assert_problem(await client.delete(url), 404)


async def test_one_relation_per_pair_and_none_to_itself(client):
    one, two = await make_incident(client), await make_incident(client)
    assert (await relate(client, one, two["reference"], "causes")).status_code == 201
    for incident, other, kind in ((one, two, "related"), (two, one, "caused_by")):
        problem = assert_problem(await relate(client, incident, other["id"], kind), 409)
        assert problem["type"] == "urn:muster:problem:already-related"
    problem = assert_problem(await relate(client, one, one["reference"], "related"), 409)
    assert problem["type"] == "urn:muster:problem:same-incident"
    assert await relations(client, one) == [("INC-2", "causes")]


async def test_concurrent_relations_of_one_pair_leave_exactly_one(client):
    one, two = await make_incident(client), await make_incident(client)
    responses = await asyncio.gather(
        *(relate(client, one, two["id"], "related") for _ in range(3)),
        *(relate(client, two, one["id"], "causes") for _ in range(3)),
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    assert len(await relations(client, one)) == len(await relations(client, two)) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"incident": "INC-999", "kind": "related"},
        {"incident": "nope", "kind": "related"},
        {"incident": "INC-1", "kind": "duplicates"},
        {"incident": "INC-1"},
        {"kind": "related"},
        {"incident": "INC-1", "kind": "related", "note": "x"},
    ],
)
async def test_a_bad_relation_is_a_problem(client, body):
    incident = await make_incident(client)
    await make_incident(client)
    response = await client.post(f"/api/v1/incidents/{incident['id']}/relations", json=body)
    assert_problem(response, 422)
    assert await relations(client, incident) == []


async def test_deleting_a_relation_to_an_unknown_incident_is_404(client):
    incident = await make_incident(client)
    for other in ("INC-999", "not-one"):
        url = f"/api/v1/incidents/{incident['id']}/relations/{other}"
        assert_problem(await client.delete(url), 404)
