"""Naming the deploy that caused an incident: it must exist, and the timeline says which."""

import uuid

from sqlalchemy import delete

from app.deploys.models import Deploy
from tests.core.test_errors import assert_problem
from tests.factories import make_incident, outbox_types, read_incident, timeline


async def record_deploy(client, **fields) -> dict:
    body = {
        "service": "checkout",
        "environment": "production",
        "status": "succeeded",
        "version": "2.4.0",
    } | fields
    response = await client.post("/api/v1/deploys", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_naming_a_deploy_links_it_and_the_timeline_names_it(client, database):
    deploy = await record_deploy(client)
    incident = await make_incident(client)
    url = f"/api/v1/incidents/{incident['id']}"

    response = await client.patch(url, json={"caused_by_deploy_id": deploy["id"]})
    assert response.status_code == 200, response.text
    assert response.json()["caused_by_deploy_id"] == deploy["id"]
    [entry] = await timeline(client, incident, kind="deploy_linked")
    assert entry["summary"] == "Cause named: checkout 2.4.0 in production"
    assert entry["data"]["to"] == deploy["id"]
    assert entry["data"]["deploy"] == {
        "id": deploy["id"],
        "service": "checkout",
        "version": "2.4.0",
        "environment": "production",
        "status": "succeeded",
    }
    assert "incident.updated" in await outbox_types(database)


async def test_a_deploy_without_version_is_named_by_commit(client):
    deploy = await record_deploy(
        client, version=None, commit_sha="3f6c2a1e9b0d4c5f8a7e6d5c4b3a291817161514"
    )
    incident = await make_incident(client)
    await client.patch(
        f"/api/v1/incidents/{incident['id']}", json={"caused_by_deploy_id": deploy["id"]}
    )
    [entry] = await timeline(client, incident, kind="deploy_linked")
    assert entry["summary"] == "Cause named: checkout 3f6c2a1e9b0d in production"


async def test_null_clears_the_cause(client):
    deploy = await record_deploy(client)
    incident = await make_incident(client)
    url = f"/api/v1/incidents/{incident['id']}"
    await client.patch(url, json={"caused_by_deploy_id": deploy["id"]})

    response = await client.patch(url, json={"caused_by_deploy_id": None})
    assert response.status_code == 200
    assert response.json()["caused_by_deploy_id"] is None
    entries = await timeline(client, incident, kind="deploy_linked")
    assert [e["summary"] for e in entries] == [
        "Cause named: checkout 2.4.0 in production",
        "Cause cleared",
    ]


async def test_an_unknown_deploy_is_a_problem_and_changes_nothing(client, database):
    incident = await make_incident(client)
    url = f"/api/v1/incidents/{incident['id']}"
    before = await outbox_types(database)

    response = await client.patch(
        url, json={"caused_by_deploy_id": str(uuid.uuid4()), "title": "Renamed", "severity": "sev1"}
    )
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["body.caused_by_deploy_id"]
    assert await read_incident(client, incident) == incident
    assert [e["kind"] for e in await timeline(client, incident)] == ["incident_created"]
    assert await outbox_types(database) == before


async def test_deleting_the_named_deploy_clears_the_cause(client, database):
    deploy = await record_deploy(client)
    incident = await make_incident(client)
    url = f"/api/v1/incidents/{incident['id']}"
    await client.patch(url, json={"caused_by_deploy_id": deploy["id"]})

    async with database.sessionmaker() as session:
        await session.execute(delete(Deploy).where(Deploy.id == uuid.UUID(deploy["id"])))
        await session.commit()
    assert (await client.get(url)).json()["caused_by_deploy_id"] is None
