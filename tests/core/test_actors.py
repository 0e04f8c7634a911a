"""The request's actor: personal keys, service keys, `act-as` and `Muster-Acting-For`."""

import uuid

import pytest

from app.core.actors import ActorMismatch, FourEyes, Via, resolve_actor
from app.core.errors import InvalidInput
from app.core.security import Credential, Principal, Scope, expand_scopes
from tests.core.test_errors import assert_problem
from tests.factories import make_incident

KEY_ID = uuid.uuid4()


def _principal(*scopes: Scope, person: str | None = None, name: str = "chat-bot") -> Principal:
    return Principal(key_id=KEY_ID, name=name, scopes=expand_scopes(list(scopes)), person=person)


def test_a_personal_key_acts_as_its_person():
    actor = resolve_actor(_principal(Scope.INCIDENTS_WRITE, person="alice"), None)
    assert (actor.handle, actor.is_person) == ("alice", True)
    assert actor.via == Via(credential=Credential.API_KEY, key_id=KEY_ID, key_name="chat-bot")
    assert actor.claim("alice", field="body.author") is actor
    assert actor.claim(None, field="body.author") is actor
    with pytest.raises(ActorMismatch, match="acts as alice"):
        actor.claim("bob", field="body.author")


def test_a_personal_key_cannot_act_for_someone_else_even_with_act_as():
    principal = _principal(Scope.ADMIN, person="alice")
    assert resolve_actor(principal, "Alice").handle == "alice"
    with pytest.raises(ActorMismatch):
        resolve_actor(principal, "bob")
    with pytest.raises(ActorMismatch):
        resolve_actor(principal, None).claim("bob", field="body.reviewer")


def test_a_service_key_acts_as_the_service():
    actor = resolve_actor(_principal(Scope.INCIDENTS_WRITE), None)
    assert (actor.handle, actor.is_person) == ("service:chat-bot", False)
    with pytest.raises(ActorMismatch, match="service:chat-bot"):
        actor.claim("alice", field="body.author")
    with pytest.raises(ActorMismatch, match="act-as"):
        resolve_actor(_principal(Scope.INCIDENTS_WRITE), "alice")


def test_an_act_as_key_acts_for_the_person_it_names():
    principal = _principal(Scope.INCIDENTS_WRITE, Scope.ACT_AS)
    actor = resolve_actor(principal, "Alice")
    assert (actor.handle, actor.is_person, actor.may_act_for) == ("alice", True, False)
    assert actor.via.key_name == "chat-bot"
    with pytest.raises(ActorMismatch):
        actor.claim("bob", field="body.author")
    # Without the header it may name the person in the body, once.
    itself = resolve_actor(principal, None)
    assert (itself.handle, itself.is_person) == ("service:chat-bot", False)
    for_bob = itself.claim("bob", field="body.reviewer")
    assert (for_bob.handle, for_bob.is_person, for_bob.via) == ("bob", True, itself.via)


def test_admin_includes_act_as():
    assert resolve_actor(_principal(Scope.ADMIN), "alice").handle == "alice"


def test_the_header_is_a_handle():
    with pytest.raises(InvalidInput) as refused:
        resolve_actor(_principal(Scope.ACT_AS), "alice\u200b")
    assert refused.value.errors[0].field == "header.Muster-Acting-For"
    # UTF-8 bytes, as Starlette hands them over (Latin-1).
    named = "josé".encode().decode("latin-1")
    assert resolve_actor(_principal(Scope.ACT_AS), named).handle == "josé"


def test_an_oidc_principal_is_a_person_and_its_via_names_the_subject():
    principal = Principal(
        key_id=None,
        name="00u1abcd",
        scopes=expand_scopes([Scope.INCIDENTS_WRITE]),
        person="alice",
        credential=Credential.OIDC,
    )
    actor = resolve_actor(principal, None)
    assert actor.handle == "alice"
    assert actor.via.stored() == {
        "credential": "oidc",
        "key_id": None,
        "key_name": None,
        "subject": "00u1abcd",
    }
    assert principal.subject == "oidc:00u1abcd"


def test_four_eyes_compare_people():
    alice = resolve_actor(_principal(Scope.INCIDENTS_WRITE, person="alice"), None)
    alice.require_second_person("bob", "approve")
    with pytest.raises(FourEyes):
        alice.require_second_person("alice", "approve")
    with pytest.raises(FourEyes):
        alice.require_second_person("ALICE", "approve")  # stored before handles were folded
    service = resolve_actor(_principal(Scope.INCIDENTS_WRITE), None)
    with pytest.raises(FourEyes, match="service"):
        service.require_person("propose a rollback")


# Through HTTP: the timeline's `author` is the actor.


async def _key(client, *scopes: str, person: str | None = None, name: str = "key") -> dict:
    body = {"name": name, "scopes": list(scopes)} | ({"person": person} if person else {})
    response = await client.post("/api/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _write(anon_client, incident, key, headers=None, **body):
    return await anon_client.post(
        f"/api/v1/incidents/{incident['id']}/timeline",
        json={"summary": "Restarted pods"} | body,
        headers={"Authorization": f"Bearer {key['key']}"} | (headers or {}),
    )


async def test_a_personal_key_writes_as_its_person(client, anon_client):
    incident = await make_incident(client)
    key = await _key(client, "incidents:write", person="Alice")
    assert key["person"] == "alice"
    assert (await _write(anon_client, incident, key)).json()["author"] == "alice"
    assert (await _write(anon_client, incident, key, author="ALICE")).json()["author"] == "alice"
    refused = await _write(anon_client, incident, key, author="bob")
    assert_problem(refused, 403, "actor-mismatch")
    assert refused.json()["actor"] == "alice"
    assert "acts as alice" in refused.json()["detail"]


async def test_a_service_key_writes_as_the_service(client, anon_client):
    incident = await make_incident(client)
    key = await _key(client, "incidents:write", name="ci")
    assert key["person"] is None
    assert (await _write(anon_client, incident, key)).json()["author"] == "service:ci"
    assert_problem(await _write(anon_client, incident, key, author="bob"), 403, "actor-mismatch")
    with_header = await _write(anon_client, incident, key, {"Muster-Acting-For": "bob"})
    assert_problem(with_header, 403, "actor-mismatch")
    assert with_header.json()["actor"] == "service:ci"


async def test_an_act_as_key_writes_for_the_person_it_names(client, anon_client):
    incident = await make_incident(client)
    bot = await _key(client, "incidents:write", "act-as", name="chat-bot")
    for_alice = await _write(anon_client, incident, bot, {"Muster-Acting-For": "Alice"})
    assert for_alice.json()["author"] == "alice"
    assert (await _write(anon_client, incident, bot, author="bob")).json()["author"] == "bob"
    mismatch = await _write(
        anon_client, incident, bot, {"Muster-Acting-For": "alice"}, author="bob"
    )
    assert_problem(mismatch, 403, "actor-mismatch")
    # Header values are bytes: a UTF-8 handle is read as UTF-8.
    utf8 = {"Muster-Acting-For": "José".encode()}
    assert (await _write(anon_client, incident, bot, utf8)).json()["author"] == "josé"
    invisible = {"Muster-Acting-For": "alice\u200b".encode()}
    refused = assert_problem(
        await _write(anon_client, incident, bot, invisible), 422, "validation-error"
    )
    assert refused["errors"][0]["field"] == "header.Muster-Acting-For"


async def test_a_handle_with_an_invisible_character_is_refused(client):
    incident = await make_incident(client)
    response = await client.post(
        f"/api/v1/incidents/{incident['id']}/timeline",
        json={"summary": "Restarted pods", "author": "alice\u200b"},
    )
    assert_problem(response, 422, "validation-error")
    assert response.json()["errors"][0]["field"] == "body.author"
    assert response.json()["errors"][0]["type"] == "handle"
