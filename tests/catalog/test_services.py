"""Services as records: created, read, described, filtered; unknown ones appear unowned."""

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import event

from tests.auth.test_api_keys import create_key
from tests.catalog.helpers import create, import_file, names, service, write_json
from tests.core.test_errors import assert_problem
from tests.factories import make_incident

CHECKOUT: dict[str, Any] = {
    "display_name": "Checkout",
    "owner_team": "payments-team",
    "tier": 1,
    "runbook_url": "https://wiki.example.com/runbooks/checkout",
    "links": [{"title": "Overview", "url": "https://grafana.example.com/d/c", "kind": "dashboard"}],
    "depends_on": ["payments"],
    "checklist": [{"key": "flags_checked", "label": "Feature flags checked"}],
}
ESCALATION = {
    "levels": [
        {"after_minutes": 0, "targets": [{"url": "https://hooks.slack.com/x", "format": "slack"}]},
        {
            "after_minutes": 7.5,
            "targets": [
                {
                    "url": "https://events.pagerduty.com/v2/enqueue",
                    "format": "pagerduty",
                    "routing_key": "R0UT1NGKEY",
                }
            ],
        },
    ]
}


async def test_a_service_is_created_read_and_listed(client):
    created = await create(client, "checkout", **CHECKOUT)
    assert {key: created[key] for key in CHECKOUT} == CHECKOUT
    assert created["escalation"] is None
    assert await service(client, "checkout") == created
    # a service it depends on joins the catalog, unowned
    assert await names(client) == ["checkout", "payments"]
    assert (await service(client, "payments"))["owner_team"] is None
    assert (created["source"], (await service(client, "payments"))["source"]) == ("api", "seen")
    response = await client.post("/api/v1/services", json={"name": "checkout"})
    assert assert_problem(response, 409)["type"] == "urn:muster:problem:service-exists"
    # a service only seen so far is described by a POST as well
    payments = await create(client, "payments", owner_team="payments-team")
    assert (payments["owner_team"], payments["source"]) == ("payments-team", "api")
    missing = await client.get("/api/v1/services/nothing")
    assert assert_problem(missing, 404)["type"] == "urn:muster:problem:service-not-found"


async def test_patch_changes_only_what_is_sent_and_null_clears(client):
    await create(client, "checkout", **CHECKOUT)
    response = await client.patch(
        "/api/v1/services/checkout", json={"tier": 2, "runbook_url": None}
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["tier"], changed["runbook_url"], changed["owner_team"]) == (
        2,
        None,
        "payments-team",
    )
    assert (
        assert_problem(await client.patch("/api/v1/services/checkout", json={"links": None}), 422)[
            "errors"
        ][0]["field"]
        == "body.links"
    )
    assert_problem(await client.patch("/api/v1/services/nope", json={"tier": 1}), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Checkout API"},
        {"name": "-checkout"},
        {"name": "checkout", "tier": 5},
        {"name": "checkout", "tier": 0},
        {"name": "checkout", "runbook_url": "ftp://wiki/runbook"},
        {"name": "checkout", "links": [{"title": "x", "url": "https://a.example", "kind": "wiki"}]},
        {"name": "checkout", "checklist": [{"key": "Bad Key", "label": "x"}]},
        {"name": "checkout", "owner_team": "  "},
        {"name": "checkout", "escalation": {"levels": []}},
        {"name": "checkout", "escalation": {"levels": [{"after_minutes": -1, "targets": []}]}},
        {
            "name": "checkout",
            "escalation": {
                "levels": [{"after_minutes": 1, "targets": [{"url": "https://x", "format": "sms"}]}]
            },
        },
        {"name": "checkout", "owner": "someone"},
    ],
)
async def test_invalid_services_are_422_problems(client, body):
    assert_problem(await client.post("/api/v1/services", json=body), 422)
    assert await names(client) == []


async def test_escalation_is_stored_its_secrets_never_shown_and_admin_only(client, anon_client):
    created = await create(client, "checkout", escalation=ESCALATION)
    levels = created["escalation"]["levels"]
    assert [level["after_minutes"] for level in levels] == [0, 7.5]
    assert levels[1]["targets"] == [
        {
            "url": "https://events.pagerduty.com/v2/enqueue",
            "format": "pagerduty",
            "has_secret": False,
            "has_routing_key": True,
        }
    ]
    assert "R0UT1NGKEY" not in (await client.get("/api/v1/services/checkout")).text

    writer = await create_key(client, "incidents:write")
    headers = {"Authorization": f"Bearer {writer['key']}"}
    denied = await anon_client.patch(
        "/api/v1/services/checkout", json={"escalation": None}, headers=headers
    )
    assert_problem(denied, 403)
    allowed = await anon_client.patch(
        "/api/v1/services/checkout", json={"owner_team": "core"}, headers=headers
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["escalation"]["levels"][0]["targets"][0]["format"] == "slack"


async def test_services_seen_in_incidents_and_deploys_join_unowned(client):
    await create(client, "checkout", owner_team="payments-team")
    await make_incident(client, services=["checkout", "search", "Search Frontend"])
    deploy = {"service": "ledger", "environment": "production", "status": "succeeded"}
    assert (await client.post("/api/v1/deploys", json=deploy)).status_code == 201
    incident = await make_incident(client, services=["checkout"])
    response = await client.patch(
        f"/api/v1/incidents/{incident['id']}", json={"services": ["checkout", "cart"]}
    )
    assert response.status_code == 200, response.text

    assert await names(client, unowned="true") == ["Search Frontend", "cart", "ledger", "search"]
    assert await names(client, unowned="false") == ["checkout"]
    assert await names(client, owner_team="payments-team") == ["checkout"]
    seen = await service(client, "Search Frontend")
    assert (seen["owner_team"], seen["links"], seen["depends_on"]) == (None, [], [])
    # describing a seen service is a PATCH
    response = await client.patch("/api/v1/services/search", json={"owner_team": "discovery"})
    assert response.json()["owner_team"] == "discovery"


async def test_a_request_naming_many_new_services_writes_them_in_one_statement(client, database):
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if re.search(r'INSERT INTO "?services\b', statement):
            statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await make_incident(client, services=["a", "b", "c", "d", "e"])
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
    assert len(statements) == 1, statements
    assert "ON CONFLICT" in statements[0]
    if database.engine.dialect.name == "postgresql":  # no round trip of its own
        assert "outbox_events" in statements[0]
        assert "checklist_items" in statements[0]
    assert await names(client) == ["a", "b", "c", "d", "e"]
    await make_incident(client, services=["a", "e"])  # known: nothing new, no error
    assert await names(client) == ["a", "b", "c", "d", "e"]


async def test_the_list_pages_in_name_order(client):
    for name in ("d", "b", "a", "c", "e"):
        await create(client, name)
    first = (await client.get("/api/v1/services", params={"limit": 2})).json()
    assert [s["name"] for s in first["items"]] == ["a", "b"]
    rest = await client.get(
        "/api/v1/services", params={"limit": 10, "cursor": first["next_cursor"]}
    )
    assert rest.status_code == 200, rest.text
    assert [s["name"] for s in rest.json()["items"]] == ["c", "d", "e"]


CATALOG = {
    "services": [
        {"name": "checkout", **CHECKOUT, "depends_on": ["payments"]},
        {"name": "payments", "owner_team": "payments-team", "depends_on": ["ledger"]},
        {"name": "ledger", "owner_team": "finance", "tier": 1},
        {"name": "search", "owner_team": "discovery", "escalation": ESCALATION},
    ]
}


async def test_importing_a_catalog_twice_changes_nothing_the_second_time(client, app, tmp_path):
    await make_incident(client, services=["ledger"])  # seen first, unowned
    path = write_json(tmp_path / "catalog.json", CATALOG)
    first = import_file(app, path)
    assert first.returncode == 0, first.stderr
    assert "3 created, 1 updated, 0 unchanged" in first.stdout
    before = {name: await service(client, name) for name in await names(client)}
    assert before["ledger"]["owner_team"] == "finance"
    assert before["checkout"]["checklist"] == CHECKOUT["checklist"]

    again = import_file(app, path)
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 updated, 4 unchanged" in again.stdout
    assert {name: await service(client, name) for name in await names(client)} == before

    # the file is the truth for what it names: a field it leaves out is reset
    CATALOG_V2 = {"services": [{"name": "ledger", "owner_team": "finance"}]}
    assert import_file(app, write_json(tmp_path / "v2.json", CATALOG_V2)).returncode == 0
    assert (await service(client, "ledger"))["tier"] is None


async def test_a_yaml_catalog_imports_and_a_bad_one_says_why(client, app, tmp_path):
    yaml_file = tmp_path / "catalog.yaml"
    yaml_file.write_text(
        "services:\n"
        "  - name: checkout\n"
        "    owner_team: payments-team\n"
        "    tier: 1\n"
        "    depends_on: [payments]\n"
    )
    done = import_file(app, yaml_file)
    assert done.returncode == 0, done.stderr
    assert (await service(client, "checkout"))["depends_on"] == ["payments"]

    bad = write_json(tmp_path / "bad.json", {"services": [{"name": "x", "tier": 9}]})
    refused = import_file(app, bad)
    assert refused.returncode != 0
    assert "services.0.tier" in refused.stderr
    assert "x" not in await names(client)


async def test_concurrent_requests_naming_the_same_new_services_all_succeed(client):
    orders = [["x", "y", "z"], ["z", "y", "x"], ["y", "x", "z"]] * 3
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/incidents", json={"title": "t", "services": services})
            for services in orders
        )
    )
    assert [r.status_code for r in responses] == [201] * len(orders)
    assert await names(client) == ["x", "y", "z"]
