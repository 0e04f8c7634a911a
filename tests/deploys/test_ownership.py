"""A deploy is written only by whoever reported it: its API key, or Muster itself."""

import httpx
import pytest
from fastapi import FastAPI

from app.core.errors import PROBLEM_JSON
from tests.factories import make_incident
from tests.rollbacks.helpers import decide, execute, propose

DEPLOY = {"service": "checkout", "environment": "production", "status": "succeeded"}


@pytest.fixture
async def ci_key(client, app: FastAPI):
    """A client with a new `deploys:write` key of its own."""
    opened: list[httpx.AsyncClient] = []

    async def make(name: str) -> httpx.AsyncClient:
        made = await client.post(
            "/api/v1/api-keys", json={"name": name, "scopes": ["deploys:write"]}
        )
        assert made.status_code == 201, made.text
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://muster.test",
            headers={"Authorization": f"Bearer {made.json()['key']}"},
        )
        opened.append(http)
        return http

    yield make
    for http in opened:
        await http.aclose()


async def test_an_executed_rollback_cannot_be_overwritten_through_the_api(client, ci_key):
    incident = await make_incident(client, services=["checkout"])
    bad = await client.post("/api/v1/deploys", json=DEPLOY | {"version": "2.4.0"})
    review = await propose(client, incident, deploy_id=bad.json()["id"], to_version="2.3.9")
    assert (await decide(client, review)).status_code == 200
    assert (await execute(client, review)).status_code == 200
    (rollback,) = (await client.get("/api/v1/deploys", params={"status": "rolled_back"})).json()[
        "items"
    ]
    assert rollback["source"] == "muster"

    ci = await ci_key("ci")
    forged = await ci.post(
        "/api/v1/deploys",
        json=DEPLOY
        | {"service": "other", "version": "6.6.6", "actor": "mallory"}
        | {"external_id": rollback["external_id"]},
    )
    assert forged.status_code == 201, forged.text
    assert forged.json()["id"] != rollback["id"]
    assert forged.json()["source"] == "api"
    assert (await client.get(f"/api/v1/deploys/{rollback['id']}")).json() == rollback


async def test_another_keys_external_id_is_a_conflict(client, ci_key):
    first, second = await ci_key("ci-one"), await ci_key("ci-two")
    created = await first.post(
        "/api/v1/deploys", json=DEPLOY | {"status": "started", "external_id": "pipeline-1"}
    )
    assert created.status_code == 201, created.text

    taken = await second.post(
        "/api/v1/deploys",
        json=DEPLOY | {"service": "billing", "version": "9", "external_id": "pipeline-1"},
    )
    assert taken.status_code == 409, taken.text
    assert taken.headers["content-type"] == PROBLEM_JSON
    assert "external_id" in taken.json()["detail"]
    unchanged = (await client.get(f"/api/v1/deploys/{created.json()['id']}")).json()
    assert unchanged == created.json()

    updated = await first.post(
        "/api/v1/deploys", json=DEPLOY | {"version": "2.5.0", "external_id": "pipeline-1"}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == created.json()["id"]
    assert (updated.json()["status"], updated.json()["version"]) == ("succeeded", "2.5.0")
