"""The release gate: a deploy to a service a prevention measure has not reached yet is
recorded `unprotected`, with the measures missing, and `deploy.unprotected` goes out."""

from typing import Any

import httpx
import pytest

from tests.factories import make_incident
from tests.notifications.conftest import subscribe
from tests.notifications.receiver import Receiver, eventually
from tests.postmortems.helpers import add_item, events, patch_item

URL = "/api/v1/deploys"


async def deploy(client: httpx.AsyncClient, service: str, **fields: Any) -> dict[str, Any]:
    body = {"service": service, "environment": "production", "status": "succeeded"}
    response = await client.post(URL, json=body | fields)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


async def measure(client: httpx.AsyncClient, **fields: Any) -> tuple[dict, dict]:
    incident = await make_incident(client, services=["checkout"])
    item = await add_item(
        client,
        incident,
        title="Canary deploys",
        kind="prevent",
        rollout=[{"service": "checkout", "status": "done"}, {"service": "payments"}],
        **fields,
    )
    return incident, item


@pytest.mark.usefixtures("clock")  # 2026-03-02: the measure is due later
async def test_a_deploy_where_a_prevention_measure_is_pending_is_unprotected(client, database):
    receiver = Receiver().start()
    try:
        await subscribe(client, receiver.url, events=["deploy.unprotected"])
        incident, item = await measure(client, due="2026-03-20")
        unprotected = await deploy(client, "payments", version="v7")
        assert unprotected["unprotected"] is True
        assert unprotected["missing_measures"] == [
            {
                "action_item_id": item["id"],
                "title": "Canary deploys",
                "incident_id": incident["id"],
                "incident_reference": incident["reference"],
                "rollout_status": "pending",
                "due": "2026-03-20",
                "overdue": False,
            }
        ]
        assert (await client.get(f"{URL}/{unprotected['id']}")).json() == unprotected
        protected = await deploy(client, "checkout")  # the measure reached checkout
        assert (protected["unprotected"], protected["missing_measures"]) == (False, [])

        (request,) = await eventually(lambda: receiver.received, message="deploy.unprotected")
        payload = request.json()
        assert payload["type"] == "deploy.unprotected"
        assert payload["data"]["deploy"] == unprotected
        listed = (await client.get(URL, params={"unprotected": "true"})).json()["items"]
        assert [d["id"] for d in listed] == [unprotected["id"]]
    finally:
        receiver.stop()
    recorded = [e["deploy"]["id"] for e in await events(database, "deploy.recorded")]
    assert unprotected["id"] in recorded  # recorded as usual, and flagged


async def test_the_finding_is_kept_as_it_was_when_the_deploy_arrived(client, database):
    _, item = await measure(client)
    first = await deploy(client, "payments", external_id="run-1", status="started")
    await patch_item(client, item, rollout=[{"service": "payments", "status": "done"}])
    finished = await deploy(client, "payments", external_id="run-1")  # an update, not a new one
    assert finished["id"] == first["id"]
    assert finished["unprotected"] is True
    assert len(await events(database, "deploy.unprotected")) == 1
    assert (await deploy(client, "payments"))["unprotected"] is False  # the next release


async def test_only_unfinished_prevention_rollouts_gate(client, clock):
    incident = await make_incident(client)
    pending = [{"service": "search"}]
    await add_item(client, incident, kind="detect", rollout=pending)  # not a prevention
    await add_item(client, incident, kind="prevent", status="wont_do", rollout=pending)
    await add_item(
        client,
        incident,
        kind="prevent",
        due="2026-03-10",
        rollout=[{"service": "search", "status": "in_progress"}],
    )
    assert (await deploy(client, "search"))["unprotected"] is False  # in progress, in time
    clock.set(clock.now.replace(day=11))
    late = await deploy(client, "search")
    assert late["unprotected"] is True
    ((missing),) = late["missing_measures"]
    assert (missing["rollout_status"], missing["overdue"]) == ("in_progress", True)


async def test_a_rollback_is_not_gated(client):
    await measure(client)
    assert (await deploy(client, "payments", kind="rollback"))["unprotected"] is False
