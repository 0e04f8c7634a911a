"""The catalog's story, end to end: import, an alert, suspects through dependencies,
and the service page with its pending measure and rollback readiness."""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.catalog.helpers import import_file, names, service
from tests.catalog.test_incidents import AM_HEADERS, AM_URL, checklist_keys, firing, links
from tests.factories import make_incident, move

CATALOG = """
services:
  - name: checkout
    display_name: Checkout
    owner_team: web
    tier: 1
    runbook_url: https://wiki.example.com/runbooks/checkout
    links:
      - {title: Checkout overview, url: "https://grafana.example.com/d/checkout", kind: dashboard}
    depends_on: [payments]
    checklist:
      - {key: feature_flags_checked, label: Checkout feature flags checked}
  - name: payments
    owner_team: payments-team
    tier: 1
    depends_on: [ledger]
  - name: ledger
    owner_team: finance
    tier: 2
  - name: search
    owner_team: discovery
    tier: 3
"""
IMPACT = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def deploy(client: httpx.AsyncClient, service: str, minutes_before: int) -> None:
    finished = IMPACT - timedelta(minutes=minutes_before)
    body = {
        "service": service,
        "environment": "production",
        "status": "succeeded",
        "version": f"{service}-v2",
        "external_id": f"{service}-{minutes_before}",
        "started_at": z(finished - timedelta(minutes=4)),
        "finished_at": z(finished),
    }
    assert (await client.post("/api/v1/deploys", json=body)).status_code == 201


async def earlier_payments_incident(client: httpx.AsyncClient) -> dict[str, Any]:
    """Last week's payments incident: a measure still to roll out, a verified rollback."""
    incident = await make_incident(
        client,
        title="Payments timeouts",
        services=["payments"],
        started_at=z(IMPACT - timedelta(days=7)),
    )
    measure = {
        "title": "Circuit breaker on the ledger client",
        "kind": "prevent",
        "owner": "dana",
        "due": (date.today() - timedelta(days=1)).isoformat(),
        "rollout": [{"service": "payments"}, {"service": "checkout", "status": "done"}],
    }
    response = await client.post(f"/api/v1/incidents/{incident['id']}/action-items", json=measure)
    assert response.status_code == 201, response.text
    reviews = f"/api/v1/incidents/{incident['id']}/rollback-reviews"
    proposal = {
        "service": "payments",
        "environment": "production",
        "from_version": "v1.8.0",
        "to_version": "v1.7.3",
        "procedure": ["helm rollback payments 41", "Watch the p99 latency"],
        "requested_by": "alice",
    }
    review = (await client.post(reviews, json=proposal)).json()
    for step, body in [
        ("decision", {"decision": "approve", "reviewer": "bob"}),
        ("execution", {"executed_by": "carol", "outcome": "succeeded"}),
        ("verification", {"verified_by": "bob", "result": "recovered"}),
    ]:
        response = await client.post(f"{reviews}/{review['id']}/{step}", json=body)
        assert response.status_code == 200, response.text
    for status in ("acknowledged", "investigating", "mitigated", "resolved"):
        assert (await move(client, incident, status)).status_code == 200
    return incident


async def test_the_catalog_from_import_to_the_service_page(client, app, tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    imported = import_file(app, catalog)
    assert imported.returncode == 0, imported.stderr
    assert await names(client) == ["checkout", "ledger", "payments", "search"]
    assert "0 created, 0 updated, 4 unchanged" in import_file(app, catalog).stdout

    earlier = await earlier_payments_incident(client)
    await deploy(client, "payments", 10)
    await deploy(client, "ledger", 25)
    await deploy(client, "search", 5)  # no dependency of checkout: no suspect

    alert = firing()
    for each in alert["alerts"]:
        each["startsAt"] = z(IMPACT)
    response = await client.post(AM_URL, content=json.dumps(alert), headers=AM_HEADERS)
    assert response.status_code == 200, response.text
    (reference,) = response.json()["opened"]
    incident = (await client.get(f"/api/v1/incidents/{reference}")).json()

    assert await links(client, incident) == [
        (
            "runbook",
            "Checkout runbook",
            "https://wiki.example.com/runbooks/checkout",
            "catalog:checkout",
        ),
        (
            "dashboard",
            "Checkout overview",
            "https://grafana.example.com/d/checkout",
            "catalog:checkout",
        ),
    ]
    assert (await checklist_keys(client, incident))[-1] == "feature_flags_checked"

    suspects = (await client.get(f"/api/v1/incidents/{reference}/suspect-deploys")).json()["items"]
    assert [(s["service"], s["minutes_before_impact"], s["via"]) for s in suspects] == [
        ("payments", 10, ["checkout", "payments"]),
        ("ledger", 25, ["checkout", "payments", "ledger"]),
    ]

    # a rollback proposed for the payments suspect shows what worked last time
    proposal = {
        "service": "payments",
        "deploy_id": suspects[0]["id"],
        "to_version": "v1.8.0",
        "procedure": ["helm rollback payments"],
        "requested_by": "erin",
    }
    proposed = await client.post(f"/api/v1/incidents/{reference}/rollback-reviews", json=proposal)
    assert proposed.status_code == 201, proposed.text
    worked = proposed.json()["worked_before"]
    assert (worked["procedure"], worked["incident_id"], worked["executed_by"]) == (
        ["helm rollback payments 41", "Watch the p99 latency"],
        earlier["id"],
        "carol",
    )

    page = await client.get("/api/v1/services/payments/overview")
    assert page.status_code == 200, page.text
    overview = page.json()
    assert overview["service"] == await service(client, "payments")
    assert overview["open_incidents"] == []
    (last,) = overview["recent_incidents"]
    assert (last["reference"], last["status"]) == (earlier["reference"], "resolved")
    assert last["minutes_to_resolve"] is not None
    assert last["minutes_to_resolve"] > 7 * 24 * 60
    # newest first: the executed rollback (recorded by Muster, now), then the deploy
    assert [(d["version"], d["kind"], d["status"]) for d in overview["recent_deploys"]] == [
        ("v1.7.3", "rollback", "rolled_back"),
        ("payments-v2", "deploy", "succeeded"),
    ]
    (measure,) = overview["pending_measures"]
    assert (measure["title"], measure["incident"], measure["rollout_status"]) == (
        "Circuit breaker on the ledger client",
        earlier["reference"],
        "pending",
    )
    assert measure["overdue"] is True
    readiness = overview["rollback_readiness"]
    verified = readiness["last_verified"]
    assert (verified["from_version"], verified["to_version"], verified["incident"]) == (
        "v1.8.0",
        "v1.7.3",
        earlier["reference"],
    )
    assert verified["procedure"] == ["helm rollback payments 41", "Watch the p99 latency"]
    assert verified["minutes_to_verified"] is not None
    assert verified["minutes_to_verified"] >= 0
    assert readiness["people"] == [
        {"handle": "bob", "rollbacks": 1},
        {"handle": "carol", "rollbacks": 1},
    ]
    assert (readiness["bus_factor"], readiness["single_person"]) == (2, False)
    assert readiness["never_rolled_back"] is False

    # checkout's page: the open incident; ledger was deployed, never rolled back
    checkout = (await client.get("/api/v1/services/checkout/overview")).json()
    assert [i["reference"] for i in checkout["open_incidents"]] == [reference]
    assert checkout["pending_measures"] == []
    ledger = (await client.get("/api/v1/services/ledger/overview")).json()["rollback_readiness"]
    assert ledger == {
        "last_verified": None,
        "people": [],
        "bus_factor": 0,
        "single_person": False,
        "never_rolled_back": True,
    }
