"""What a rollback review refuses: a lone reviewer, steps out of order, bad input."""

import uuid

import pytest

from tests.core.test_errors import assert_problem
from tests.factories import count_rows, make_incident, outbox_types, timeline
from tests.rollbacks.helpers import (
    PROPOSAL,
    checklist_item,
    decide,
    execute,
    propose,
    read,
    reviews_url,
    step,
    verify,
)


@pytest.mark.parametrize("reviewer", ["alice", "ALICE", "Alice"])
async def test_the_requester_cannot_review_their_own_rollback(client, database, reviewer):
    incident = await make_incident(client)
    review = await propose(client, incident, requested_by="alice")
    before = (await outbox_types(database), await timeline(client, incident))

    problem = assert_problem(await decide(client, review, reviewer=reviewer), 409)
    assert problem["type"] == "urn:muster:problem:four-eyes"
    assert problem["requested_by"] == "alice"
    assert await read(client, review) == review
    assert (await outbox_types(database), await timeline(client, incident)) == before
    assert not (await checklist_item(client, incident, "rollback_decided"))["done"]


async def _approved(client, incident):
    review = await propose(client, incident)
    assert (await decide(client, review)).status_code == 200
    return review


async def _rejected(client, incident):
    review = await propose(client, incident)
    assert (await decide(client, review, "reject")).status_code == 200
    return review


async def _executed(client, incident):
    review = await _approved(client, incident)
    assert (await execute(client, review)).status_code == 200
    return review


async def _verified(client, incident):
    review = await _executed(client, incident)
    assert (await verify(client, review)).status_code == 200
    return review


@pytest.mark.parametrize(
    ("reach", "attempt", "current", "allowed"),
    [
        (propose, execute, "proposed", ["decision"]),
        (propose, verify, "proposed", ["decision"]),
        (_approved, decide, "approved", ["execution"]),
        (_approved, verify, "approved", ["execution"]),
        (_executed, decide, "executed", ["verification"]),
        (_executed, execute, "executed", ["verification"]),
        (_rejected, verify, "rejected", []),
        (_rejected, execute, "rejected", []),
        (_rejected, decide, "rejected", []),
        (_verified, verify, "verified", []),
    ],
)
async def test_a_step_out_of_order_is_409_naming_state_and_next_step(
    client, database, reach, attempt, current, allowed
):
    incident = await make_incident(client)
    review = await read(client, await reach(client, incident))
    before = (await outbox_types(database), await timeline(client, incident))

    problem = assert_problem(await attempt(client, review), 409)
    assert problem["type"] == "urn:muster:problem:invalid-review-step"
    assert (problem["current"], problem["allowed"]) == (current, allowed)
    assert current in problem["detail"]
    assert await read(client, review) == review
    assert (await outbox_types(database), await timeline(client, incident)) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"procedure": None}, "body.procedure"),
        ({"procedure": []}, "body.procedure"),
        ({"procedure": ["  "]}, "body.procedure.0"),
        ({"procedure": "helm rollback"}, "body.procedure"),
        ({"to_version": None}, "body.to_version"),
        ({"to_version": "2.4.0"}, "body.to_version"),  # equals from_version
        ({"service": ""}, "body.service"),
        ({"requested_by": "two words"}, "body.requested_by"),
        ({"requested_by": "alice\u200b"}, "body.requested_by"),  # zero-width space
        ({"deploy_id": str(uuid.uuid4())}, "body.deploy_id"),
        ({"deploy_id": "not-a-uuid"}, "body.deploy_id"),
        ({"environment": None}, "body.environment"),  # and the incident has no env label
        ({"colour": "red"}, "body.colour"),
    ],
)
async def test_bad_proposals_are_422_naming_the_field_and_change_nothing(
    client, database, change, field
):
    incident = await make_incident(client)
    body = {k: v for k, v in (PROPOSAL | change).items() if v is not None}
    problem = assert_problem(await client.post(reviews_url(incident), json=body), 422)
    assert field in [e["field"] for e in problem["errors"]], problem
    assert await count_rows(database, "rollback_reviews") == 0
    assert "rollback_review.requested" not in await outbox_types(database)
    assert len(await timeline(client, incident)) == 1


async def test_the_deploy_must_be_of_the_service_rolled_back(client, database):
    incident = await make_incident(client)
    search = await client.post(
        "/api/v1/deploys",
        json={"service": "search", "environment": "production", "status": "succeeded"},
    )
    response = await client.post(
        reviews_url(incident), json=PROPOSAL | {"deploy_id": search.json()["id"]}
    )
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["body.deploy_id"]
    assert await count_rows(database, "rollback_reviews") == 0


async def test_the_environment_defaults_to_the_incidents_label(client):
    incident = await make_incident(client, labels={"env": "eu-prod"})
    body = {k: v for k, v in PROPOSAL.items() if k != "environment"}
    response = await client.post(reviews_url(incident), json=body)
    assert response.status_code == 201, response.text
    assert response.json()["environment"] == "eu-prod"


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("decision", {"decision": "maybe", "reviewer": "bob"}, "body.decision"),
        ("decision", {"decision": "approve", "reviewer": "bob\u200b"}, "body.reviewer"),
        ("decision", {"decision": "approve", "reviewer": ""}, "body.reviewer"),
        ("execution", {"outcome": "partial", "executed_by": "carol"}, "body.outcome"),
        ("execution", {"outcome": "succeeded", "executed_by": "Ca rol"}, "body.executed_by"),
        ("verification", {"result": "meh", "verified_by": "bob"}, "body.result"),
        (
            "verification",
            {"result": "not_recovered", "verified_by": "bob", "mark_mitigated": True},
            "body.mark_mitigated",
        ),
        ("verification", {"result": "recovered", "verified_by": "bob", "x": 1}, "body.x"),
    ],
)
async def test_bad_step_bodies_are_422_and_change_nothing(client, database, action, body, field):
    incident = await make_incident(client)
    # each review stands at the step being tried, so only the body is wrong
    reach = {"decision": propose, "execution": _approved, "verification": _executed}[action]
    review = await read(client, await reach(client, incident))
    before = (await outbox_types(database), await timeline(client, incident))

    problem = assert_problem(await step(client, review, action, **body), 422)
    assert field in [e["field"] for e in problem["errors"]], problem
    assert await read(client, review) == review
    assert (await outbox_types(database), await timeline(client, incident)) == before


@pytest.mark.parametrize("action", ["decision", "execution", "verification"])
async def test_a_review_of_another_incident_is_404(client, action):
    mine = await make_incident(client)
    theirs = await propose(client, await make_incident(client))
    body = {
        "decision": {"decision": "approve", "reviewer": "bob"},
        "execution": {"outcome": "succeeded", "executed_by": "carol"},
        "verification": {"result": "recovered", "verified_by": "bob"},
    }[action]
    crossed = theirs | {"incident_id": mine["id"]}
    assert_problem(await step(client, crossed, action, **body), 404)
    url = f"{reviews_url(mine)}/{theirs['id']}"
    assert_problem(await client.get(url), 404)
    assert_problem(await client.get(f"{reviews_url(mine)}/{uuid.uuid4()}"), 404)
    assert await read(client, theirs) == theirs
    assert len(await timeline(client, mine)) == 1


async def test_reading_needs_read_and_writing_needs_write(client, anon_client):
    incident = await make_incident(client)
    review = await propose(client, incident)
    created = await client.post(
        "/api/v1/api-keys", json={"name": "viewer", "scopes": ["incidents:read"]}
    )
    viewer = {"Authorization": f"Bearer {created.json()['key']}"}
    assert_problem(await anon_client.get(reviews_url(incident)), 401)
    assert (await anon_client.get(reviews_url(incident), headers=viewer)).status_code == 200
    url = f"{reviews_url(incident)}/{review['id']}/decision"
    body = {"decision": "approve", "reviewer": "bob"}
    assert_problem(await anon_client.post(url, json=body, headers=viewer), 403)
    assert_problem(
        await anon_client.post(reviews_url(incident), json=PROPOSAL, headers=viewer), 403
    )
    assert (await read(client, review))["status"] == "proposed"
