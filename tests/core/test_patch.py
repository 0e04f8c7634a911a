"""PATCH bodies: `null` clears only what may be empty; elsewhere it is a 422 naming the
field, nothing changes, and the OpenAPI document does not offer it."""

import pytest

from app.core.patch import Patch
from app.main import create_app
from tests.core.test_errors import assert_problem
from tests.factories import make_incident

# PATCH body schema -> (fields refusing null, fields null clears)
FIELDS = {
    "IncidentUpdate": (
        ["title", "severity", "status", "services", "labels", "commander"],
        ["summary", "caused_by_deploy_id"],
    ),
    "EntryUpdate": (["kind", "summary", "occurred_at", "data"], ["body"]),
    "SubscriptionUpdate": (["url", "events", "format", "secret", "active"], ["description"]),
    "ActionItemUpdate": (["title", "kind", "status", "rollout"], ["description", "owner", "due"]),
}


async def _targets(client) -> dict[str, str]:
    """A URL for each PATCH body schema, naming a row that exists."""
    incident = await make_incident(client, summary="s")
    url = f"/api/v1/incidents/{incident['id']}"
    entry = await client.post(f"{url}/timeline", json={"summary": "seen", "author": "alice"})
    subscription = await client.post(
        "/api/v1/subscriptions",
        json={"url": "https://hooks.example.test/x", "events": ["*"], "description": "d"},
    )
    item = await client.post(f"{url}/action-items", json={"title": "fix", "owner": "bob"})
    return {
        "IncidentUpdate": url,
        "EntryUpdate": f"{url}/timeline/{entry.json()['id']}",
        "SubscriptionUpdate": f"/api/v1/subscriptions/{subscription.json()['id']}",
        "ActionItemUpdate": f"/api/v1/action-items/{item.json()['id']}",
    }


@pytest.mark.parametrize("schema", FIELDS)
async def test_null_is_refused_where_a_field_cannot_be_empty_and_clears_it_elsewhere(
    client, schema
):
    url = (await _targets(client))[schema]
    refused, cleared = FIELDS[schema]
    before = (await client.get(url)).json() if schema != "EntryUpdate" else None
    for field in refused:
        problem = assert_problem(await client.patch(url, json={field: None}), 422)
        assert problem["errors"] == [
            {"field": f"body.{field}", "message": "may not be null", "type": "null"}
        ]
    if before is not None:
        assert (await client.get(url)).json() == before
    for field in cleared:
        response = await client.patch(url, json={field: None})
        assert response.status_code == 200, response.text
        assert response.json()[field] is None


def test_the_document_offers_null_only_where_it_clears():
    schemas = create_app().openapi()["components"]["schemas"]
    for name, (refused, cleared) in FIELDS.items():
        properties = schemas[name]["properties"]
        for field in refused:
            assert "null" not in str(properties[field]), (name, field, properties[field])
        for field in cleared:
            assert {"type": "null"} in properties[field]["anyOf"], (name, field)


def test_a_not_null_name_that_is_no_field_fails_at_class_creation():
    with pytest.raises(TypeError, match="titel"):

        class Misspelled(Patch):
            NOT_NULL = frozenset({"titel"})
            title: str | None = None
