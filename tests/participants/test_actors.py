"""Joining, adding someone and ticking the checklist, as the request's actor."""

from tests.conftest import KeyClient
from tests.core.test_errors import assert_problem
from tests.factories import make_incident


def _url(incident, suffix):
    return f"/api/v1/incidents/{incident['id']}{suffix}"


async def test_a_person_joins_as_themself_or_adds_someone(client, key_client: KeyClient):
    incident = await make_incident(client)
    alice = await key_client("incidents:write", name="alice-laptop", person="alice")
    joined = await alice.post(_url(incident, "/participants"), json={"role": "sre"})
    assert joined.status_code == 201, joined.text
    body = joined.json()
    assert (body["handle"], body["added_by"], body["via"]["key_name"]) == (
        "alice",
        "alice",
        "alice-laptop",
    )
    added = await alice.post(_url(incident, "/participants"), json={"handle": "Bob"})
    assert (added.json()["handle"], added.json()["added_by"]) == ("bob", "alice")
    again = await alice.post(_url(incident, "/participants"), json={"handle": "BOB"})
    assert again.status_code == 409  # one person, however it is spelt
    found = await alice.patch(_url(incident, "/participants/Bob"), json={"role": "developer"})
    assert (found.status_code, found.json()["handle"]) == (200, "bob")


async def test_a_service_names_who_joins(client, key_client: KeyClient):
    incident = await make_incident(client)
    ci = await key_client("incidents:write", name="pager-sync")
    refused = await ci.post(_url(incident, "/participants"), json={"role": "sre"})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["body.handle"]
    added = await ci.post(_url(incident, "/participants"), json={"handle": "sam", "role": "sre"})
    assert (added.json()["handle"], added.json()["added_by"]) == ("sam", "service:pager-sync")
    # An act-as bot naming the person is that person joining.
    bot = await key_client("incidents:write", "act-as", name="chat-bot")
    joined = await bot.post(_url(incident, "/participants"), json={"handle": "dana"})
    assert (joined.json()["added_by"], joined.json()["via"]["key_name"]) == ("dana", "chat-bot")


async def test_the_checklist_is_ticked_by_the_actor(client, key_client: KeyClient):
    incident = await make_incident(client)
    alice = await key_client("incidents:write", name="alice-laptop", person="alice")
    url = _url(incident, "/checklist/rollback_decided")
    refused = await alice.patch(url, json={"done": True, "by": "bob"})
    assert_problem(refused, 403, "actor-mismatch")
    ticked = (await alice.patch(url, json={"done": True})).json()
    assert (ticked["done_by"], ticked["done_via"]["key_name"]) == ("alice", "alice-laptop")


async def test_a_commander_handle_is_one_spelling(client):
    incident = await make_incident(client)
    named = await client.patch(_url(incident, ""), json={"commander": "Bob"})
    assert named.json()["commander"] == "bob"
    invisible = await client.patch(_url(incident, ""), json={"commander": "bob\u200b"})
    assert invisible.status_code == 422
    assert [e["type"] for e in invisible.json()["errors"]] == ["handle"]


async def test_an_owner_is_found_by_any_spelling(client):
    incident = await make_incident(client)
    made = await client.post(
        _url(incident, "/action-items"), json={"title": "Alert on saturation", "owner": "Dana"}
    )
    assert made.json()["owner"] == "dana"
    found = await client.get("/api/v1/action-items", params={"owner": "DANA"})
    assert [item["owner"] for item in found.json()["items"]] == ["dana"]
    refused = await client.get("/api/v1/action-items", params={"owner": "dana\u200b"})
    assert_problem(refused, 422, "validation-error")
    assert [e["field"] for e in refused.json()["errors"]] == ["query.owner"]
