"""Incidents pick up the catalog: links (runbooks, dashboards), extra checklist items."""

import json
from typing import Any

import httpx

from tests.catalog.helpers import create, names
from tests.conftest import ALERTMANAGER_TOKEN, FIXTURES
from tests.core.test_errors import assert_problem
from tests.factories import make_incident

AM_URL = "/api/v1/webhooks/alertmanager"
AM_HEADERS = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}", "Content-Type": "application/json"}


def firing(**annotations: str) -> dict[str, Any]:
    """The captured firing notification, its alerts carrying `annotations` too."""
    body = json.loads((FIXTURES / "alertmanager" / "firing-two-alerts.json").read_bytes())
    for alert in body["alerts"]:
        alert["annotations"] |= annotations
    return body


async def links(client: httpx.AsyncClient, incident: dict[str, Any]) -> list[tuple[str, ...]]:
    response = await client.get(f"/api/v1/incidents/{incident['id']}/links")
    assert response.status_code == 200, response.text
    return [(i["kind"], i["title"], i["url"], i["source"]) for i in response.json()["items"]]


async def checklist_keys(client: httpx.AsyncClient, incident: dict[str, Any]) -> list[str]:
    response = await client.get(
        f"/api/v1/incidents/{incident['id']}/checklist", params={"limit": 100}
    )
    assert response.status_code == 200, response.text
    return [item["key"] for item in response.json()["items"]]


async def test_a_new_incident_brings_its_services_links_and_checklist_items(client):
    await create(
        client,
        "checkout",
        display_name="Checkout",
        runbook_url="https://wiki.example.com/runbooks/checkout",
        links=[{"title": "Errors", "url": "https://grafana.example.com/d/c", "kind": "dashboard"}],
        checklist=[
            {"key": "flags_checked", "label": "Feature flags checked"},
            {"key": "sre_joined", "label": "a key the template has: not added twice"},
        ],
    )
    await create(
        client,
        "payments",
        links=[{"title": "Same dashboard", "url": "https://grafana.example.com/d/c"}],
        checklist=[{"key": "psp_status_checked", "label": "Payment provider status checked"}],
    )
    incident = await make_incident(client, services=["checkout", "payments", "unknown"])
    assert await links(client, incident) == [
        (
            "runbook",
            "Checkout runbook",
            "https://wiki.example.com/runbooks/checkout",
            "catalog:checkout",
        ),
        ("dashboard", "Errors", "https://grafana.example.com/d/c", "catalog:checkout"),
    ]
    keys = await checklist_keys(client, incident)
    assert keys[-2:] == ["flags_checked", "psp_status_checked"]
    assert keys.count("sre_joined") == 1
    # an incident of services without catalog entries has the template alone
    plain = await make_incident(client, services=["unknown"])
    assert await links(client, plain) == []
    assert await checklist_keys(client, plain) == keys[:-2]


async def test_people_add_links_once_per_url(client):
    incident = await make_incident(client)
    url = f"/api/v1/incidents/{incident['id']}/links"
    link = {"title": "Status page", "url": "https://status.example.com", "kind": "other"}
    first = await client.post(url, json=link)
    assert first.status_code == 201, first.text
    assert first.json()["source"] == "service:bootstrap-admin"
    again = await client.post(url, json=link | {"title": "Another title"})
    assert again.status_code == 200
    assert again.json() == first.json()
    for bad in (
        {"title": "x", "url": "javascript:alert(1)"},
        {"title": "", "url": "https://a.example"},
        {"title": "x", "url": "https://a.example", "kind": "video"},
        {"url": "https://a.example"},
    ):
        assert_problem(await client.post(url, json=bad), 422)
    # made for a person: the link says who
    acting = await client.post(
        url,
        json={"title": "Logs", "url": "https://logs.example.com/q", "kind": "logs"},
        headers={"Muster-Acting-For": "alice"},
    )
    assert acting.status_code == 201, acting.text
    assert await links(client, incident) == [
        ("other", "Status page", "https://status.example.com", "service:bootstrap-admin"),
        ("logs", "Logs", "https://logs.example.com/q", "alice"),
    ]
    assert_problem(await client.post("/api/v1/incidents/INC-999/links", json=link), 404)


async def test_alertmanager_annotations_become_links_and_services_join_unowned(client):
    body = firing(
        runbook_url="https://wiki.example.com/runbooks/high-error-rate",
        dashboard_url="https://grafana.example.com/d/checkout-errors",
    )
    response = await client.post(AM_URL, content=json.dumps(body), headers=AM_HEADERS)
    assert response.status_code == 200, response.text
    (incident,) = (await client.get("/api/v1/incidents")).json()["items"]
    assert await links(client, incident) == [
        (
            "runbook",
            "HighErrorRate runbook",
            "https://wiki.example.com/runbooks/high-error-rate",
            "alertmanager",
        ),
        (
            "dashboard",
            "HighErrorRate dashboard",
            "https://grafana.example.com/d/checkout-errors",
            "alertmanager",
        ),
    ]
    assert await names(client, unowned="true") == ["checkout"]


async def test_an_annotation_that_is_no_url_is_left_out_not_refused(client):
    body = firing(runbook_url="see the wiki", dashboard_url="")
    response = await client.post(AM_URL, content=json.dumps(body), headers=AM_HEADERS)
    assert response.status_code == 200, response.text
    (incident,) = (await client.get("/api/v1/incidents")).json()["items"]
    assert await links(client, incident) == []


async def test_the_incident_page_shows_its_links_escaped(client):
    await create(client, "checkout", runbook_url="https://wiki.example.com/run?a=1&b=<2>")
    incident = await make_incident(client, services=["checkout"])
    response = await client.post(
        f"/api/v1/incidents/{incident['id']}/links",
        json={"title": "<b>Logs</b>", "url": "https://logs.example.com/q", "kind": "logs"},
    )
    assert response.status_code == 201, response.text
    html = (await client.get(f"/api/v1/incidents/{incident['reference']}/page")).text
    section = html.split('<section id="links">')[1].split("</section>")[0]
    assert 'href="https://wiki.example.com/run?a=1&amp;b=&lt;2&gt;"' in section
    assert "checkout runbook" in section
    assert "&lt;b&gt;Logs&lt;/b&gt;" in section
    assert "<b>" not in section
