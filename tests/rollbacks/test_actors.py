"""Four eyes on identities: who proposes and who decides are the requests' actors."""

from tests.conftest import KeyClient
from tests.core.test_errors import assert_problem
from tests.factories import make_incident
from tests.rollbacks.helpers import PROPOSAL, decide, propose, read, reviews_url


async def test_one_person_cannot_approve_their_own_rollback_under_any_name(
    client, key_client: KeyClient
):
    """The reproductions: one key proposed as alice and approved as `alice\\u200b`, as
    `bob`, or as itself; each is refused and the review stays proposed."""
    incident = await make_incident(client)
    alice = await key_client("incidents:write", name="alice-laptop", person="alice")
    review = await propose(alice, incident, requested_by="alice")
    assert review["requested_by"] == "alice"

    invisible = assert_problem(
        await decide(alice, review, reviewer="alice\u200b"), 422, "validation-error"
    )
    assert [e["field"] for e in invisible["errors"]] == ["body.reviewer"]
    mismatch = assert_problem(await decide(alice, review, reviewer="bob"), 403, "actor-mismatch")
    assert mismatch["actor"] == "alice"
    assert "acts as alice" in mismatch["detail"]
    own = assert_problem(await decide(alice, review, reviewer=None), 409, "four-eyes")
    assert own["requested_by"] == "alice"
    assert assert_problem(await decide(alice, review, reviewer="ALICE"), 409, "four-eyes")
    assert (await read(client, review))["status"] == "proposed"


async def test_two_personal_keys_propose_and_approve(client, key_client: KeyClient):
    incident = await make_incident(client)
    alice = await key_client("incidents:write", name="alice-laptop", person="alice")
    bob = await key_client("incidents:write", name="bob-phone", person="Bob")
    proposal = {k: v for k, v in PROPOSAL.items() if k != "requested_by"}
    created = await alice.post(reviews_url(incident), json=proposal)
    assert created.status_code == 201, created.text
    review = created.json()

    approved = await bob.post(
        f"{reviews_url(incident)}/{review['id']}/decision", json={"decision": "approve"}
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["requested_by"], body["reviewer"]) == ("approved", "alice", "bob")
    via = body["via"]
    assert via["requested_by"]["key_name"] == "alice-laptop"
    assert via["reviewer"]["key_name"] == "bob-phone"
    assert via["reviewer"]["credential"] == "api_key"
    assert via["executed_by"] is None


async def test_an_act_as_bot_acts_for_alice_then_bob_and_is_the_via_of_both(
    client, key_client: KeyClient
):
    incident = await make_incident(client)
    bot = await key_client("incidents:write", "act-as", name="chat-bot")
    bot.headers["Muster-Acting-For"] = "alice"
    review = await propose(bot, incident, requested_by=None)
    # The same person, through the bot, still may not approve.
    assert_problem(await decide(bot, review, reviewer=None), 409, "four-eyes")
    bot.headers["Muster-Acting-For"] = "Bob"
    approved = await decide(bot, review, reviewer=None)
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["requested_by"], body["reviewer"]) == ("alice", "bob")
    assert body["via"]["requested_by"]["key_name"] == "chat-bot"
    assert body["via"]["reviewer"]["key_name"] == "chat-bot"
    assert body["via"]["reviewer"]["key_id"] == body["via"]["requested_by"]["key_id"]
    assert (await read(client, review))["via"] == body["via"]


async def test_an_act_as_bot_may_name_the_person_in_the_body(client, key_client: KeyClient):
    incident = await make_incident(client)
    bot = await key_client("incidents:write", "act-as", name="chat-bot")
    review = await propose(bot, incident, requested_by="alice")
    assert review["requested_by"] == "alice"
    assert_problem(await decide(bot, review, reviewer="Alice"), 409, "four-eyes")
    approved = await decide(bot, review, reviewer="bob")
    assert approved.status_code == 200, approved.text
    assert approved.json()["reviewer"] == "bob"


async def test_a_service_acting_as_itself_can_neither_propose_nor_decide(
    client, key_client: KeyClient
):
    incident = await make_incident(client)
    ci = await key_client("incidents:write", name="ci")
    proposal = {k: v for k, v in PROPOSAL.items() if k != "requested_by"}
    refused = assert_problem(await ci.post(reviews_url(incident), json=proposal), 409, "four-eyes")
    assert "service:ci is a service" in refused["detail"]
    assert_problem(await propose_as(ci, incident, "alice"), 403, "actor-mismatch")

    review = await propose(client, incident, requested_by="alice")
    assert_problem(await decide(ci, review, reviewer=None), 409, "four-eyes")
    assert_problem(await decide(ci, review, reviewer="bob"), 403, "actor-mismatch")
    # An act-as key that names no one is a service too.
    bot = await key_client("incidents:write", "act-as", name="chat-bot")
    assert_problem(await decide(bot, review, reviewer=None), 409, "four-eyes")
    assert (await read(client, review))["status"] == "proposed"


async def propose_as(http, incident, requested_by):
    return await http.post(reviews_url(incident), json=PROPOSAL | {"requested_by": requested_by})
