"""A rollback from proposal to verified recovery, and the other ways a review ends."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from app.core.events import OutboxEvent
from tests.core.test_errors import assert_problem
from tests.factories import make_incident, move, outbox_types
from tests.rollbacks.helpers import (
    checklist_item,
    decide,
    execute,
    propose,
    read,
    reviews_url,
    story,
    verify,
)


async def rollback_events(database) -> list[tuple[str, dict]]:
    async with database.sessionmaker() as session:
        events = await session.scalars(
            select(OutboxEvent)
            .where(col(OutboxEvent.type).startswith("rollback_review."))
            .order_by(col(OutboxEvent.occurred_at))
        )
        return [(event.type, event.data) for event in events]


async def rolled_back_deploys(client, service: str = "checkout") -> list[dict]:
    response = await client.get(
        "/api/v1/deploys", params={"service": service, "status": "rolled_back"}
    )
    return list(response.json()["items"])


async def test_proposed_approved_executed_verified_and_mitigated(client, database):
    started = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    incident = await make_incident(client, services=["checkout"], started_at=started)
    await move(client, incident, "investigating")
    bad = await client.post(
        "/api/v1/deploys",
        json={
            "service": "checkout",
            "environment": "production",
            "status": "succeeded",
            "version": "2.4.0",
        },
    )
    deploy = bad.json()

    # proposed: from_version and environment default to the deploy's
    response = await client.post(
        reviews_url(incident),
        json={
            "service": "checkout",
            "deploy_id": deploy["id"],
            "to_version": "2.3.9",
            "procedure": ["  helm rollback checkout 41  ", "watch the 5xx rate"],
            "requested_by": "alice",
        },
    )
    assert response.status_code == 201, response.text
    review = response.json()
    assert response.headers["location"] == (
        f"/api/v1/incidents/{incident['reference']}/rollback-reviews/{review['id']}"
    )
    # the proposal also shows what worked before for the service: nothing yet
    assert review.pop("worked_before") is None
    assert await read(client, review) == review
    assert (review["status"], review["from_version"], review["environment"]) == (
        "proposed",
        "2.4.0",
        "production",
    )
    assert review["procedure"] == ["helm rollback checkout 41", "watch the 5xx rate"]
    assert review["allowed_actions"] == ["decision"]

    approved = await decide(client, review, reviewer="bob", comment="procedure checked")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert (approved.json()["reviewer"], approved.json()["decision_comment"]) == (
        "bob",
        "procedure checked",
    )
    assert approved.json()["decided_at"]
    assert approved.json()["allowed_actions"] == ["execution"]

    executed = await execute(client, review, executed_by="carol", note="all pods on 2.3.9")
    assert executed.status_code == 200, executed.text
    assert (executed.json()["status"], executed.json()["execution_outcome"]) == (
        "executed",
        "succeeded",
    )
    [rollback] = await rolled_back_deploys(client)
    assert executed.json()["rollback_deploy_id"] == rollback["id"]
    assert (rollback["version"], rollback["environment"], rollback["kind"]) == (
        "2.3.9",
        "production",
        "rollback",
    )
    assert (rollback["source"], rollback["actor"]) == ("muster", "carol")
    assert review["id"] in rollback["external_id"]

    verified = await verify(client, review, verified_by="dana", mark_mitigated=True)
    assert verified.status_code == 200, verified.text
    final = verified.json()
    assert (final["status"], final["verification_result"], final["verified_by"]) == (
        "verified",
        "recovered",
        "dana",
    )
    assert final["allowed_actions"] == []
    assert await read(client, review) == final

    after = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert after["status"] == "mitigated"
    assert after["mitigated_at"]
    assert (await checklist_item(client, incident, "rollback_decided"))["done"]
    assert (await checklist_item(client, incident, "recovery_verified"))["done"]

    what = "Rollback of checkout 2.4.0 → 2.3.9"
    assert (await story(client, incident))[1:] == [
        f"rollback_review alice: {what} proposed by alice",
        f"rollback_review bob: {what} approved by bob: procedure checked",
        f"checklist muster: Checklist: Rollback decided (yes / no, and why) — done "
        f"(yes: {what} approved by bob)",
        f"rollback_review carol: {what} executed by carol: all pods on 2.3.9",
        f"rollback_review dana: {what} verified by dana: recovered",
        f"checklist muster: Checklist: Recovery verified — done ({what} verified by dana: "
        "recovered)",
        "status_changed dana: Status investigating → mitigated",
    ]

    events = await rollback_events(database)
    assert [kind for kind, _ in events] == [
        "rollback_review.requested",
        "rollback_review.decided",
        "rollback_review.executed",
    ]
    assert [data["rollback_review"]["status"] for _, data in events] == [
        "proposed",
        "approved",
        "executed",
    ]
    assert {data["incident"]["id"] for _, data in events} == {incident["id"]}
    assert events[2][1]["deploy"]["id"] == rollback["id"]
    types = await outbox_types(database)
    assert types.count("deploy.recorded") == 2  # the bad release and the rollback
    assert types[-1] == "incident.status_changed"


async def test_a_rejected_review_is_over_and_ticks_the_checklist_no(client):
    incident = await make_incident(client)
    review = await propose(client, incident)
    rejected = await decide(client, review, "reject", reviewer="bob", comment="too risky")
    assert rejected.status_code == 200
    assert (rejected.json()["status"], rejected.json()["allowed_actions"]) == ("rejected", [])
    item = await checklist_item(client, incident, "rollback_decided")
    assert item["done"]
    assert item["note"] == "no: Rollback of checkout 2.4.0 → 2.3.9 rejected by bob"
    assert (await story(client, incident))[0] == (
        "rollback_review alice: Rollback of checkout 2.4.0 → 2.3.9 proposed by alice"
    )
    assert (await story(client, incident))[1] == (
        "rollback_review bob: Rollback of checkout 2.4.0 → 2.3.9 rejected by bob: too risky"
    )
    assert await rolled_back_deploys(client) == []


async def test_a_failed_execution_ends_the_review_without_a_deploy(client, database):
    incident = await make_incident(client)
    review = await propose(client, incident, from_version=None)
    assert (await decide(client, review)).status_code == 200
    failed = await execute(client, review, "failed", note="helm timed out")
    assert failed.status_code == 200
    body = failed.json()
    assert (body["status"], body["execution_outcome"], body["rollback_deploy_id"]) == (
        "failed",
        "failed",
        None,
    )
    assert await rolled_back_deploys(client) == []
    assert (await story(client, incident))[-1] == (
        "rollback_review carol: Rollback of checkout to 2.3.9 attempted by carol and failed: "
        "helm timed out"
    )
    executed = [data for kind, data in await rollback_events(database) if kind.endswith("executed")]
    assert [data["outcome"] for data in executed] == ["failed"]


async def test_not_recovered_fails_the_review_and_leaves_the_incident(client):
    incident = await make_incident(client)
    review = await propose(client, incident)
    await decide(client, review)
    await execute(client, review)
    response = await verify(client, review, "not_recovered", note="5xx unchanged")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["verification_result"]) == (
        "failed",
        "not_recovered",
    )
    assert (await client.get(f"/api/v1/incidents/{incident['id']}")).json()["status"] == "triggered"
    assert not (await checklist_item(client, incident, "recovery_verified"))["done"]


async def test_mark_mitigated_leaves_an_incident_that_cannot_move_there(client):
    incident = await make_incident(client)
    review = await propose(client, incident)
    await decide(client, review)
    await execute(client, review)
    await move(client, incident, "resolved")
    response = await verify(client, review, mark_mitigated=True)
    assert response.status_code == 200
    assert response.json()["status"] == "verified"
    assert (await client.get(f"/api/v1/incidents/{incident['id']}")).json()["status"] == "resolved"
    assert (await story(client, incident))[-2:] == [
        "rollback_review bob: Rollback of checkout 2.4.0 → 2.3.9 verified by bob: recovered",
        "checklist muster: Checklist: Recovery verified — done (Rollback of checkout 2.4.0 → "
        "2.3.9 verified by bob: recovered)",
    ]


async def test_without_mark_mitigated_the_incident_stays(client):
    incident = await make_incident(client)
    review = await propose(client, incident)
    await decide(client, review)
    await execute(client, review)
    assert (await verify(client, review)).status_code == 200
    assert (await client.get(f"/api/v1/incidents/{incident['id']}")).json()["status"] == "triggered"


async def test_reviews_are_listed_oldest_first_and_filtered(client):
    incident = await make_incident(client)
    first = await propose(client, incident, to_version="2.3.9")
    second = await propose(client, incident, to_version="2.3.8")
    third = await propose(client, incident, to_version="2.3.7")
    await decide(client, second, "reject")
    other = await make_incident(client)
    await propose(client, other)

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(reviews_url(incident), params=params)).json()
        seen += [item["id"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [first["id"], second["id"], third["id"]]
    proposed = (await client.get(reviews_url(incident), params={"status": "proposed"})).json()
    assert [item["id"] for item in proposed["items"]] == [first["id"], third["id"]]


async def test_an_idempotency_key_makes_a_retried_proposal_one_review(client, database):
    incident = await make_incident(client)
    headers = {"Idempotency-Key": "propose-1"}
    body = {
        "service": "checkout",
        "environment": "production",
        "to_version": "2.3.9",
        "procedure": ["helm rollback checkout"],
        "requested_by": "alice",
    }
    first = await client.post(reviews_url(incident), json=body, headers=headers)
    again = await client.post(reviews_url(incident), json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len((await client.get(reviews_url(incident))).json()["items"]) == 1
    assert (await outbox_types(database)).count("rollback_review.requested") == 1


async def test_latest_names_the_newest_review_and_links_lead_to_the_next_step(client):
    incident = await make_incident(client, services=["checkout"])
    await propose(client, incident)
    newest = await propose(client, incident, to_version="2.3.8")
    latest = f"/api/v1/incidents/{incident['reference']}/rollback-reviews/latest"
    assert (await client.get(latest)).json()["id"] == newest["id"]
    assert newest["links"]["decision"] == (
        f"/api/v1/incidents/{incident['id']}/rollback-reviews/{newest['id']}/decision"
    )
    decided = await client.post(
        f"{latest}/decision", json={"decision": "approve", "reviewer": "bob"}
    )
    approved = decided.json()
    assert (approved["id"], approved["status"]) == (newest["id"], "approved")
    assert set(approved["links"]) == {"self", "incident", "execution"}
    executed = await client.post(
        approved["links"]["execution"], json={"executed_by": "carol", "outcome": "succeeded"}
    )
    assert executed.status_code == 200, executed.text
    assert set(executed.json()["links"]) == {"self", "incident", "verification"}
    assert (await client.get(executed.json()["links"]["self"])).json() == executed.json()
    none_yet = await make_incident(client)
    missing = f"/api/v1/incidents/{none_yet['reference']}/rollback-reviews/latest"
    assert_problem(await client.get(missing), 404)
    assert_problem(await client.get(latest.replace("latest", "newest")), 404)
