from tests.core.test_errors import assert_problem
from tests.factories import join, make_incident, outbox_types, timeline


def _url(incident, suffix=""):
    return f"/api/v1/incidents/{incident['id']}/participants{suffix}"


async def test_join_change_role_and_leave_are_recorded(client, database):
    incident = await make_incident(client)
    alice = await join(client, incident, "alice", "developer")
    assert alice["active"] is True
    assert alice["left_at"] is None

    changed = await client.patch(_url(incident, f"/{alice['id']}"), json={"role": "sre"})
    assert changed.json()["role"] == "sre"
    left = await client.delete(_url(incident, f"/{alice['id']}"))
    assert left.status_code == 200
    assert left.json()["left_at"] is not None
    assert left.json()["active"] is False

    entries = await timeline(client, incident)
    assert [e["summary"] for e in entries[1:] if e["kind"] != "checklist"] == [
        "alice joined as developer",
        "alice: developer → sre",
        "alice left (sre)",
    ]
    types = await outbox_types(database)
    assert types.count("participant.joined") == 1
    assert types.count("participant.left") == 1


async def test_a_handle_can_rejoin_and_history_is_kept(client):
    incident = await make_incident(client)
    first = await join(client, incident, "bob", "sre")
    assert_problem(await client.post(_url(incident), json={"handle": "bob"}), 409)
    await client.delete(_url(incident, f"/{first['id']}"))
    second = await join(client, incident, "bob", "developer")
    assert second["id"] != first["id"]

    everyone = (await client.get(_url(incident))).json()["items"]
    assert [(p["handle"], p["role"], p["active"]) for p in everyone] == [
        ("bob", "sre", False),
        ("bob", "developer", True),
    ]
    active = (await client.get(_url(incident), params={"active": "true"})).json()["items"]
    assert [p["id"] for p in active] == [second["id"]]


async def test_a_new_commander_demotes_the_previous_one(client):
    incident = await make_incident(client)
    alice = await join(client, incident, "alice", "commander")
    assert (await client.get(f"/api/v1/incidents/{incident['id']}")).json()["commander"] == "alice"
    bob = await join(client, incident, "bob", "sre")

    await client.patch(_url(incident, f"/{bob['id']}"), json={"role": "commander"})
    state = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert state["commander"] == "bob"
    roles = {p["handle"]: p["role"] for p in (await client.get(_url(incident))).json()["items"]}
    assert roles == {"alice": "observer", "bob": "commander"}
    assert "alice: commander → observer" in [e["summary"] for e in await timeline(client, incident)]
    del alice


async def test_patching_the_incident_commander_joins_the_handle(client):
    incident = await make_incident(client)
    response = await client.patch(
        f"/api/v1/incidents/{incident['id']}", json={"commander": "carol"}
    )
    assert response.json()["commander"] == "carol"
    people = (await client.get(_url(incident))).json()["items"]
    assert [(p["handle"], p["role"]) for p in people] == [("carol", "commander")]


async def test_commander_leaving_clears_the_incident_commander(client):
    incident = await make_incident(client)
    dave = await join(client, incident, "dave", "commander")
    await client.delete(_url(incident, f"/{dave['id']}"))
    assert (await client.get(f"/api/v1/incidents/{incident['id']}")).json()["commander"] is None


async def test_bad_participant_input(client):
    incident = await make_incident(client)
    other = await make_incident(client)
    stranger = await join(client, other, "eve")
    for body, field in [
        ({}, "body.handle"),
        ({"handle": "x", "role": "boss"}, "body.role"),
        ({"handle": "has space"}, "body.handle"),
        ({"handle": "x", "email": "not-an-email"}, "body.email"),
        ({"handle": "x", "shoe_size": 9}, "body.shoe_size"),
    ]:
        problem = assert_problem(await client.post(_url(incident), json=body), 422)
        assert field in [e["field"] for e in problem["errors"]]
    # a participant id from another incident is not found here
    assert_problem(
        await client.patch(_url(incident, f"/{stranger['id']}"), json={"role": "sre"}), 404
    )
    assert_problem(await client.delete(_url(incident, f"/{stranger['id']}")), 404)
    assert (await client.get(_url(incident))).json()["items"] == []


async def test_role_change_after_leaving_is_refused(client):
    incident = await make_incident(client)
    frank = await join(client, incident, "frank", "sre")
    await client.delete(_url(incident, f"/{frank['id']}"))
    assert_problem(
        await client.patch(_url(incident, f"/{frank['id']}"), json={"role": "commander"}), 409
    )


async def test_a_participant_is_addressed_by_handle_by_reference(client):
    """What a person has at hand: the incident's reference and the participant's handle."""
    incident = await make_incident(client)
    alice = await join(client, incident, "alice", "developer")
    url = f"/api/v1/incidents/{incident['reference']}/participants/alice"
    created = await client.post(
        f"/api/v1/incidents/{incident['reference']}/participants", json={"handle": "bob"}
    )
    assert created.headers["location"] == (
        f"/api/v1/incidents/{incident['reference']}/participants/{created.json()['id']}"
    )
    changed = await client.patch(url, json={"role": "sre"})
    assert (changed.json()["id"], changed.json()["role"]) == (alice["id"], "sre")
    assert changed.json()["links"]["self"].endswith(f"/participants/{alice['id']}")
    assert (await client.get(changed.json()["links"]["incident"])).json()["id"] == incident["id"]
    assert (await client.delete(url)).json()["left_at"] is not None
    # Rejoined: the handle names the current stint; after leaving, the latest one.
    again = await join(client, incident, "alice", "observer")
    assert (await client.patch(url, json={"role": "commander"})).json()["id"] == again["id"]
    left = await client.delete(url)
    assert (left.json()["id"], left.json()["active"]) == (again["id"], False)
    assert (await client.delete(url)).json()["id"] == again["id"]  # leaving twice is harmless
    assert_problem(await client.patch(_url(incident, "/carol"), json={"role": "sre"}), 404)
