"""Stakeholder updates: published on the timeline and as events, listed, in the postmortem."""

import pytest
from sqlalchemy import select

from app.core.events import OutboxEvent
from tests.core.test_errors import assert_problem
from tests.factories import make_incident, move, outbox_types, timeline

MESSAGE = "Checkout errors are down to 2% after the rollback.\nNext update by 15:30 UTC."


async def publish(client, incident: dict, headers: dict[str, str] | None = None, **body):
    body = {"message": MESSAGE, "audience": "stakeholders"} | body
    url = f"/api/v1/incidents/{incident['id']}/updates"
    return await client.post(url, json=body, headers=headers or {})


async def test_an_update_with_a_status_move_is_one_request_on_the_timeline_and_an_event(
    client, database
):
    incident = await make_incident(client, severity="sev2")
    await move(client, incident, "investigating")
    acting = {"Muster-Acting-For": "dana"}
    response = await publish(client, incident, acting, status="mitigated", severity="sev1")
    assert response.status_code == 201, response.text
    update = response.json()
    assert update["message"] == MESSAGE
    assert (update["audience"], update["status"], update["severity"]) == (
        "stakeholders",
        "mitigated",
        "sev1",
    )
    assert update["author"] == "dana"  # the request's actor
    assert update["via"]["credential"] == "api_key"  # and the key behind it
    after = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert (after["status"], after["severity"]) == ("mitigated", "sev1")

    (entry,) = await timeline(client, incident, kind="status_update")
    assert entry["summary"] == (
        "Update for stakeholders: Checkout errors are down to 2% after the rollback."
    )
    assert entry["body"] == MESSAGE
    assert entry["author"] == "dana"
    assert entry["occurred_at"] == update["published_at"]
    assert entry["data"] == {
        "update_id": update["id"],
        "audience": "stakeholders",
        "status": "mitigated",
        "severity": "sev1",
    }
    types = await outbox_types(database)
    assert types.count("status_update.published") == 1
    assert {"incident.status_changed", "incident.updated"} <= set(types)
    async with database.sessionmaker() as session:
        published = await session.scalar(
            select(OutboxEvent.data).where(OutboxEvent.type == "status_update.published")
        )
    assert published["update"] == update
    assert published["incident"]["status"] == "mitigated"

    await publish(client, incident, message="Resolved for everyone.", audience="public")
    listed = (await client.get(f"/api/v1/incidents/{incident['reference']}/updates")).json()
    assert [u["audience"] for u in listed["items"]] == ["stakeholders", "public"]
    assert listed["items"][0] == update

    postmortem = (await client.get(f"/api/v1/incidents/{incident['id']}/postmortem")).json()
    assert [u["id"] for u in postmortem["updates"]] == [u["id"] for u in listed["items"]]
    markdown = await client.get(
        f"/api/v1/incidents/{incident['id']}/postmortem", headers={"Accept": "text/markdown"}
    )
    assert "## Updates" in markdown.text
    assert "Resolved for everyone." in markdown.text


async def test_a_move_the_status_machine_refuses_refuses_the_update(client, database):
    incident = await make_incident(client)
    await move(client, incident, "resolved")
    before = await outbox_types(database)
    problem = assert_problem(await publish(client, incident, status="acknowledged"), 409)
    assert problem["type"] == "urn:muster:problem:invalid-transition"
    assert (await client.get(f"/api/v1/incidents/{incident['id']}/updates")).json()["items"] == []
    assert await outbox_types(database) == before


@pytest.mark.parametrize(
    "body",
    [
        {"audience": "stakeholders"},
        {"message": "  ", "audience": "stakeholders"},
        {"message": "x" * 10_001, "audience": "stakeholders"},
        {"message": "ok"},
        {"message": "ok", "audience": "everyone"},
        {"message": "ok", "audience": "public", "status": "declined"},
        {"message": "ok", "audience": "public", "status": "merged"},
        {"message": "ok", "audience": "public", "severity": "sev9"},
        {"message": "ok", "audience": "public", "author": "mallory"},
    ],
)
async def test_a_bad_update_is_a_problem(client, body):
    incident = await make_incident(client)
    response = await client.post(f"/api/v1/incidents/{incident['id']}/updates", json=body)
    assert_problem(response, 422)
    assert (await client.get(f"/api/v1/incidents/{incident['id']}/updates")).json()["items"] == []
