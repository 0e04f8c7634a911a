"""Concurrent and retried steps on one review: exactly one takes effect."""

import asyncio

from tests.factories import make_incident, outbox_types, timeline
from tests.rollbacks.helpers import decide, execute, propose, read


async def test_concurrent_decisions_on_one_review_succeed_once(client, database):
    incident = await make_incident(client)
    review = await propose(client, incident)
    responses = await asyncio.gather(
        *(
            decide(client, review, "approve" if n % 2 else "reject", reviewer=f"reviewer{n}")
            for n in range(8)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert await read(client, review) == winner
    assert (await outbox_types(database)).count("rollback_review.decided") == 1
    entries = await timeline(client, incident, kind="rollback_review")
    assert [e["author"] for e in entries] == ["alice", winner["reviewer"]]
    assert len(await timeline(client, incident, kind="checklist")) == 1


async def test_concurrent_executions_record_one_rollback_deploy(client, database):
    incident = await make_incident(client)
    review = await propose(client, incident)
    assert (await decide(client, review)).status_code == 200
    responses = await asyncio.gather(*(execute(client, review) for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5
    deploys = await client.get("/api/v1/deploys", params={"status": "rolled_back"})
    assert [d["id"] for d in deploys.json()["items"]] == [
        (await read(client, review))["rollback_deploy_id"]
    ]
    assert (await outbox_types(database)).count("rollback_review.executed") == 1


async def test_a_retried_decision_with_its_key_replays_instead_of_conflicting(client, database):
    incident = await make_incident(client)
    review = await propose(client, incident)
    url = f"/api/v1/incidents/{incident['id']}/rollback-reviews/{review['id']}/decision"
    body, headers = {"decision": "approve", "reviewer": "bob"}, {"Idempotency-Key": "d-1"}
    first = await client.post(url, json=body, headers=headers)
    again = await client.post(url, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert (await client.post(url, json=body)).status_code == 409  # without the key
    assert (await outbox_types(database)).count("rollback_review.decided") == 1
