"""Contributing factors: filed under the taxonomy's categories, listed, removed."""

import json

import pytest

from app.contributing_factors.taxonomy import DEFAULT_TAXONOMY, InvalidTaxonomy, load_taxonomy
from app.main import create_app
from tests.conftest import make_settings
from tests.core.test_errors import assert_problem
from tests.factories import make_incident, timeline
from tests.postmortems.helpers import add_item

DEFAULT_KEYS = [
    "nfr_not_verified",
    "observability_gap",
    "deploy_knowledge_not_shared",
    "key_person_dependency",
    "code_change",
    "config_change",
    "capacity",
    "dependency_failure",
    "infrastructure",
    "process",
]


def factors_url(incident):
    return f"/api/v1/incidents/{incident['reference']}/contributing-factors"


async def test_a_factor_is_added_with_the_incidents_services_and_put_on_the_timeline(client):
    incident = await make_incident(client, services=["checkout", "payments"])
    response = await client.post(
        factors_url(incident),
        json={"category": "nfr_not_verified", "description": "No load test before launch."},
    )
    assert response.status_code == 201, response.text
    factor = response.json()
    assert response.headers["location"] == f"{factors_url(incident)}/{factor['id']}"
    assert factor | {"id": None, "created_at": None} == {
        "id": None,
        "incident_id": incident["id"],
        "incident_reference": incident["reference"],
        "category": "nfr_not_verified",
        "description": "No load test before launch.",
        "services": ["checkout", "payments"],
        "created_by": "service:bootstrap-admin",
        "via": {
            "credential": "api_key",
            "key_id": None,
            "key_name": "bootstrap-admin",
            "subject": None,
        },
        "created_at": None,
    }
    named = await client.post(
        factors_url(incident),
        json={"category": "capacity", "description": "d", "services": ["db", "db"]},
    )
    assert named.json()["services"] == ["db"]
    page = (await client.get(factors_url(incident))).json()
    assert [f["category"] for f in page["items"]] == ["nfr_not_verified", "capacity"]
    assert (await client.get(response.headers["location"])).json() == factor
    (entry, _) = await timeline(client, incident, kind="contributing_factor")
    assert entry["summary"] == "Contributing factor added: nfr_not_verified"


async def test_an_unknown_category_is_refused_listing_the_allowed_ones(client):
    incident = await make_incident(client)
    response = await client.post(
        factors_url(incident), json={"category": "bad_luck", "description": "d"}
    )
    body = assert_problem(response, 422, "unknown-category")
    assert body["allowed"] == DEFAULT_KEYS
    assert body["errors"][0]["field"] == "body.category"
    assert "observability_gap" in body["detail"]
    assert (await client.get(factors_url(incident))).json()["items"] == []
    categories = (await client.get("/api/v1/contributing-factors/categories")).json()
    assert [c["key"] for c in categories] == DEFAULT_KEYS


async def test_removing_a_factor_leaves_the_action_item_addressing_nothing(client):
    incident = await make_incident(client)
    factor = (
        await client.post(
            factors_url(incident), json={"category": "process", "description": "No runbook."}
        )
    ).json()
    item = await add_item(client, incident, addresses=factor["id"])
    assert item["addresses"] == factor["id"]
    removed = await client.delete(f"{factors_url(incident)}/{factor['id']}")
    assert removed.status_code == 204
    again = await client.delete(f"{factors_url(incident)}/{factor['id']}")
    assert_problem(again, 404, "not-found")
    after = (await client.get(f"/api/v1/action-items/{item['id']}")).json()
    assert after["addresses"] is None
    summaries = [e["summary"] for e in await timeline(client, incident, kind="contributing_factor")]
    assert summaries == [
        "Contributing factor added: process",
        "Contributing factor removed: process",
    ]


async def test_a_factor_of_another_incident_is_not_found_here(client):
    one, other = await make_incident(client), await make_incident(client)
    factor = (
        await client.post(factors_url(one), json={"category": "process", "description": "d"})
    ).json()
    assert_problem(await client.get(f"{factors_url(other)}/{factor['id']}"), 404, "not-found")


async def test_an_action_item_may_only_address_a_factor_that_exists(client):
    incident = await make_incident(client)
    response = await client.post(
        f"/api/v1/incidents/{incident['id']}/action-items",
        json={"title": "t", "addresses": "00000000-0000-4000-8000-000000000000"},
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["field"] == "body.addresses"


def test_the_taxonomy_comes_from_yaml_json_or_a_list_of_keys(tmp_path):
    assert load_taxonomy(None) == DEFAULT_TAXONOMY
    yaml_file = tmp_path / "factors.yaml"
    yaml_file.write_text("categories:\n  - key: flaky_tests\n    label: Flaky tests\n")
    assert load_taxonomy(str(yaml_file)).keys == ["flaky_tests"]
    json_file = tmp_path / "factors.json"
    json_file.write_text(json.dumps([{"key": "a", "label": "A"}, {"key": "b", "label": "B"}]))
    assert load_taxonomy(str(json_file)).keys == ["a", "b"]
    inline = load_taxonomy('["capacity", "vendor_outage"]')
    assert [(c.key, c.label) for c in inline.categories] == [
        ("capacity", "Capacity"),
        ("vendor_outage", "Vendor outage"),
    ]


@pytest.mark.parametrize(
    "setting", ['["a", "a"]', '["Not A Key"]', "[]", "/nowhere/factors.yaml", '{"categories": 1}']
)
def test_an_unusable_taxonomy_stops_the_start(setting):
    with pytest.raises(InvalidTaxonomy, match="MUSTER_CONTRIBUTING_FACTORS"):
        create_app(make_settings("sqlite+aiosqlite:///:memory:", contributing_factors=setting))


async def test_the_author_is_the_requests_actor(client, anon_client):
    key = await client.post(
        "/api/v1/api-keys",
        json={"name": "alice-laptop", "scopes": ["incidents:write"], "person": "Alice"},
    )
    assert key.status_code == 201, key.text
    incident = await make_incident(client)
    response = await anon_client.post(
        factors_url(incident),
        json={"category": "process", "description": "No runbook."},
        headers={"Authorization": f"Bearer {key.json()['key']}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["created_by"] == "alice"
    assert response.json()["via"]["key_id"] == key.json()["id"]
