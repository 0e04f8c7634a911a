"""Two `muster serve` processes on one PostgreSQL database serve as one service.

Every piece of state lives in the database, so an incident can be driven through
either replica, in any order, and reads the same from both.
"""

import asyncio
from typing import Any

import httpx

from tests.conftest import ADMIN_KEY, ALERTMANAGER_TOKEN, FIXTURES, fresh_database
from tests.processes import Server, launch


async def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()


async def _snapshot(http: httpx.AsyncClient, incident_id: str) -> dict[str, Any]:
    """Everything one replica says about an incident."""
    url = f"/api/v1/incidents/{incident_id}"
    response = await http.get(url)
    return {
        "incident": await _json(response),
        "etag": response.headers["etag"],
        "participants": await _json(await http.get(f"{url}/participants", params={"limit": 200})),
        "timeline": await _json(await http.get(f"{url}/timeline", params={"limit": 200})),
        "checklist": await _json(await http.get(f"{url}/checklist", params={"limit": 200})),
        "by_reference": await _json(
            await http.get(f"/api/v1/incidents/{response.json()['reference']}")
        ),
    }


async def test_an_incident_driven_through_two_replicas_reads_the_same_from_both(tmp_path):
    async with fresh_database("postgres", tmp_path) as url:
        env = {
            "MUSTER_DATABASE_URL": url,
            "MUSTER_ADMIN_API_KEY": ADMIN_KEY,
            "MUSTER_ALERTMANAGER_TOKEN": ALERTMANAGER_TOKEN,
            "MUSTER_DB_POOL_SIZE": "2",
        }
        # Started together, both migrate at start-up: the advisory lock takes them in turn.
        servers: list[Server] = [launch(env, tmp_path, name=name) for name in ("a", "b")]
        try:
            for server in servers:
                server.wait_until_up()
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            async with (
                httpx.AsyncClient(base_url=servers[0].base, headers=headers) as a,
                httpx.AsyncClient(base_url=servers[1].base, headers=headers) as b,
            ):
                await _drive_an_incident(a, b)
                await _numbers_stay_gap_free_across_replicas(a, b)
            for server in servers:
                assert "Traceback" not in server.output(), server.output()
        finally:
            for server in servers:
                server.stop()


async def _alertmanager_pair_sends_to_both(a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    """An HA pair of Alertmanagers sends each notification to both replicas at once."""
    headers = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}", "Content-Type": "application/json"}
    path = "/api/v1/webhooks/alertmanager"
    for name in ("firing-two-alerts.json", "resolved.json"):
        body = (FIXTURES / "alertmanager" / name).read_bytes()
        answers = await asyncio.gather(
            *(http.post(path, content=body, headers=headers) for http in (a, b, a, b))
        )
        statuses = sorted([(await _json(answer))["status"] for answer in answers])
        assert statuses == ["accepted", "duplicate", "duplicate", "duplicate"], name
    opened = await _json(
        await b.get("/api/v1/incidents", params={"service": "checkout", "q": "5xx"})
    )
    assert len(opened["items"]) == 1
    incident = opened["items"][0]
    assert incident["status"] == "mitigated"
    alerts = await _json(await a.get(f"/api/v1/incidents/{incident['id']}/alerts"))
    assert len(alerts["items"]) == 3


async def _drive_an_incident(a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    for http in (a, b):
        assert (await _json(await http.get("/readyz")))["status"] == "ready"

    body = {"title": "Checkout 502s", "severity": "sev2", "services": ["checkout"]}
    key = {"Idempotency-Key": "page-7f3a"}
    incident = await _json(await a.post("/api/v1/incidents", json=body, headers=key), 201)
    # A retry that lands on the other replica replays the first answer.
    replayed = await b.post("/api/v1/incidents", json=body, headers=key)
    assert (await _json(replayed, 201))["id"] == incident["id"]
    assert replayed.headers["idempotent-replayed"] == "true"
    url = f"/api/v1/incidents/{incident['id']}"

    # Participants and the status on B …
    sam = await _json(
        await b.post(f"{url}/participants", json={"handle": "sam", "role": "sre"}), 201
    )
    dana = await _json(
        await b.post(f"{url}/participants", json={"handle": "dana", "role": "developer"}), 201
    )
    await _json(await b.patch(url, json={"status": "acknowledged"}))
    # … the commander on A, the checklist and the timeline on B …
    await _json(await a.patch(url, json={"commander": "sam"}))
    done = {"done": True, "by": "sam"}
    await _json(await b.patch(f"{url}/checklist/errors_metrics_checked", json=done))
    note = {"kind": "observation", "summary": "5xx only on v2.4.0 pods", "author": "dana"}
    await _json(await b.post(f"{url}/timeline", json=note), 201)

    # An ETag read on A guards a change on B; a stale one is refused on either.
    etag = (await a.get(url)).headers["etag"]
    await _json(
        await b.patch(
            url, json={"severity": "sev1", "status": "investigating"}, headers={"If-Match": etag}
        )
    )
    stale = await a.patch(url, json={"summary": "late"}, headers={"If-Match": etag})
    assert stale.status_code == 412, stale.text

    decision = {"kind": "decision", "summary": "Roll back to v2.3.9", "author": "sam"}
    await _json(await a.post(f"{url}/timeline", json=decision), 201)
    rollback = {"done": True, "note": "yes: v2.4.0 suspect", "by": "sam"}
    await _json(await b.patch(f"{url}/checklist/rollback_decided", json=rollback))
    action = {"kind": "action", "summary": "Rolled back checkout", "author": "dana"}
    await _json(await a.post(f"{url}/timeline", json=action), 201)
    await _json(await b.patch(url, json={"status": "mitigated"}))
    await _json(await a.delete(f"{url}/participants/{dana['id']}"))
    await _json(await b.patch(url, json={"status": "resolved"}))
    await _json(await a.patch(url, json={"status": "closed"}))

    await _alertmanager_pair_sends_to_both(a, b)

    # An API key made through one replica works on the other.
    made = await _json(
        await a.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["admin"]}), 201
    )
    listed = await b.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {made['key']}"})
    assert "ci" in [k["name"] for k in (await _json(listed))["items"]]

    seen_by_a, seen_by_b = await _snapshot(a, incident["id"]), await _snapshot(b, incident["id"])
    assert seen_by_a == seen_by_b

    final = seen_by_a["incident"]
    assert final["status"] == "closed"
    assert final["severity"] == "sev1"
    assert final["commander"] == "sam"
    assert all(final[f"{s}_at"] for s in ("acknowledged", "investigating", "mitigated", "resolved"))
    people = {(p["handle"], p["role"], p["active"]) for p in seen_by_a["participants"]["items"]}
    assert people == {("sam", "commander", True), ("dana", "developer", False)}
    assert sam["id"] in {p["id"] for p in seen_by_a["participants"]["items"]}
    checklist = {item["key"]: item["done"] for item in seen_by_a["checklist"]["items"]}
    assert checklist == {
        "errors_metrics_checked": True,
        "recent_releases_reviewed": False,
        "rollback_decided": True,
        "commander_assigned": True,
        "sre_joined": True,
        "stakeholders_notified": False,
        "recovery_verified": False,
    }
    story = [entry["summary"] for entry in seen_by_a["timeline"]["items"]]
    assert story == [
        f"{incident['reference']} opened: Checkout 502s (sev2)",
        "sam joined as sre",
        "Checklist: SRE joined — done (sam joined)",
        "dana joined as developer",
        "Status triggered → acknowledged",
        "sam: sre → commander",
        "Checklist: Incident commander assigned — done (sam is commander)",
        "Checklist: Error types and metrics checked — done",
        "5xx only on v2.4.0 pods",
        "Severity sev2 → sev1",
        "Status acknowledged → investigating",
        "Roll back to v2.3.9",
        "Checklist: Rollback decided (yes / no, and why) — done (yes: v2.4.0 suspect)",
        "Rolled back checkout",
        "Status investigating → mitigated",
        "dana left (developer)",
        "Status mitigated → resolved",
        "Status resolved → closed",
    ]


async def _numbers_stay_gap_free_across_replicas(
    a: httpx.AsyncClient, b: httpx.AsyncClient
) -> None:
    """Incidents opened at the same moment through both replicas get distinct, gap-free numbers."""
    before = (await _json(await a.get("/api/v1/incidents", params={"limit": 200})))["items"]
    created = await asyncio.gather(
        *(
            (a if i % 2 else b).post("/api/v1/incidents", json={"title": f"Burst {i}"})
            for i in range(10)
        )
    )
    numbers = sorted([(await _json(response, 201))["number"] for response in created])
    newest = before[0]["number"]
    assert numbers == list(range(newest + 1, newest + 11))
    listed_a = await _json(await a.get("/api/v1/incidents", params={"limit": 200}))
    listed_b = await _json(await b.get("/api/v1/incidents", params={"limit": 200}))
    assert listed_a == listed_b
    assert len(listed_a["items"]) == len(before) + 10
