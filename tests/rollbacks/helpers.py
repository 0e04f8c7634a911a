"""Driving rollback reviews through the API, and reading back what they changed."""

from typing import Any

import httpx

from tests.factories import timeline

PROPOSAL = {
    "service": "checkout",
    "environment": "production",
    "from_version": "2.4.0",
    "to_version": "2.3.9",
    "procedure": ["helm rollback checkout 41", "watch the 5xx rate for 10 minutes"],
    "risks": "2.4.0 added a column that 2.3.9 ignores",
    "requested_by": "alice",
}


def reviews_url(incident: dict[str, Any]) -> str:
    return f"/api/v1/incidents/{incident['id']}/rollback-reviews"


async def propose(
    client: httpx.AsyncClient, incident: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """The proposed review as reads show it (without the proposal's `worked_before`)."""
    response = await client.post(reviews_url(incident), json=PROPOSAL | fields)
    assert response.status_code == 201, response.text
    review = dict(response.json())
    review.pop("worked_before")
    return review


async def step(
    client: httpx.AsyncClient, review: dict[str, Any], action: str, **body: Any
) -> httpx.Response:
    url = f"/api/v1/incidents/{review['incident_id']}/rollback-reviews/{review['id']}/{action}"
    return await client.post(url, json=body)


async def decide(
    client: httpx.AsyncClient, review: dict[str, Any], decision: str = "approve", **body: Any
) -> httpx.Response:
    return await step(
        client, review, "decision", **({"decision": decision, "reviewer": "bob"} | body)
    )


async def execute(
    client: httpx.AsyncClient, review: dict[str, Any], outcome: str = "succeeded", **body: Any
) -> httpx.Response:
    return await step(
        client, review, "execution", **({"outcome": outcome, "executed_by": "carol"} | body)
    )


async def verify(
    client: httpx.AsyncClient, review: dict[str, Any], result: str = "recovered", **body: Any
) -> httpx.Response:
    return await step(
        client, review, "verification", **({"result": result, "verified_by": "bob"} | body)
    )


async def read(client: httpx.AsyncClient, review: dict[str, Any]) -> dict[str, Any]:
    url = f"/api/v1/incidents/{review['incident_id']}/rollback-reviews/{review['id']}"
    response = await client.get(url)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def story(client: httpx.AsyncClient, incident: dict[str, Any]) -> list[str]:
    """The timeline after the incident opened, as `kind author: summary` lines."""
    entries = await timeline(client, incident)
    return [f"{e['kind']} {e['author']}: {e['summary']}" for e in entries[1:]]


async def checklist_item(client: httpx.AsyncClient, incident: dict[str, Any], key: str) -> dict:
    response = await client.get(f"/api/v1/incidents/{incident['id']}/checklist")
    return next(item for item in response.json()["items"] if item["key"] == key)
