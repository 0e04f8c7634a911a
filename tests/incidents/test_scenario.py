"""A whole incident, from the first page to the close, read back as a person would."""

from datetime import UTC, datetime, timedelta

from tests.factories import join, make_incident, move, timeline


async def test_an_incident_run_from_open_to_close_reads_top_to_bottom(client):
    impact = datetime.now(UTC) - timedelta(minutes=30)
    incident = await make_incident(
        client,
        title="Checkout 502s",
        severity="sev2",
        services=["checkout"],
        started_at=impact.isoformat(),
    )
    ref, url = incident["reference"], f"/api/v1/incidents/{incident['id']}"

    await move(client, incident, "acknowledged")
    sam = await join(client, incident, "sam", "sre")
    await join(client, incident, "dana", "developer")
    await client.patch(url, json={"commander": "sam"})
    await client.patch(f"{url}/checklist/errors_metrics_checked", json={"done": True, "by": "sam"})
    await client.post(
        f"{url}/timeline",
        json={"kind": "observation", "summary": "5xx only on v2.4.0 pods", "author": "dana"},
    )
    await client.patch(url, json={"severity": "sev1", "status": "investigating"})
    await client.post(
        f"{url}/timeline",
        json={"kind": "decision", "summary": "Roll back to v2.3.9", "author": "sam"},
    )
    await client.patch(
        f"{url}/checklist/rollback_decided",
        json={"done": True, "note": "yes: v2.4.0 suspect", "by": "sam"},
    )
    await client.post(
        f"{url}/timeline",
        json={"kind": "action", "summary": "Rolled back checkout", "author": "dana"},
    )
    await move(client, incident, "mitigated")
    await client.delete(f"{url}/participants/{sam['id']}")
    await move(client, incident, "resolved")
    final = (await move(client, incident, "closed")).json()

    assert final["status"] == "closed"
    assert all(
        final[f"{s}_at"]
        for s in ("acknowledged", "investigating", "mitigated", "resolved", "closed")
    )
    story = [f"{e['author']}: {e['summary']}" for e in await timeline(client, incident)]
    assert story == [
        f"service:bootstrap-admin: {ref} opened: Checkout 502s (sev2)",
        "service:bootstrap-admin: Status triggered → acknowledged",
        "sam: sam joined as sre",  # the admin key acts for sam, who joins
        "muster: Checklist: SRE joined — done (sam joined)",
        "dana: dana joined as developer",
        "service:bootstrap-admin: sam: sre → commander",
        "muster: Checklist: Incident commander assigned — done (sam is commander)",
        "sam: Checklist: Error types and metrics checked — done",
        "dana: 5xx only on v2.4.0 pods",
        "service:bootstrap-admin: Severity sev2 → sev1",
        "service:bootstrap-admin: Status acknowledged → investigating",
        "sam: Roll back to v2.3.9",
        "sam: Checklist: Rollback decided (yes / no, and why) — done (yes: v2.4.0 suspect)",
        "dana: Rolled back checkout",
        "service:bootstrap-admin: Status investigating → mitigated",
        "service:bootstrap-admin: sam left (commander)",
        "service:bootstrap-admin: Status mitigated → resolved",
        "service:bootstrap-admin: Status resolved → closed",
    ]
    assert final["commander"] is None
