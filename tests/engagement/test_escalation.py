"""Escalation through the API: levels fire while no SRE is on the incident, each to its
targets in their format, and stop for good when an SRE joins or it is mitigated."""

import asyncio
import json
import time
from datetime import datetime, timedelta

from pydantic import SecretStr

from tests.engagement.helpers import LINK_SECRET, at, pagerduty_events, policy
from tests.factories import join, make_incident, move, timeline
from tests.integrations.test_alertmanager import send
from tests.notifications.conftest import running_app
from tests.notifications.receiver import eventually


async def _engagement(client, incident) -> dict:
    response = await client.get(f"/api/v1/incidents/{incident['id']}")
    assert response.status_code == 200, response.text
    return dict(response.json()["engagement"])


async def _escalations(client, incident) -> list[dict]:
    entries = await timeline(client, incident)
    return [entry["data"] for entry in entries if entry["kind"] == "escalated"]


async def test_levels_fire_until_an_sre_joins_then_pagerduty_is_acknowledged_and_resolved(
    backend, tmp_path, receiver
):
    receiver.default = 202
    async with running_app(
        backend,
        tmp_path,
        sre_escalation=policy(receiver, 0, 0.02, 0.06),
        link_secret=SecretStr(LINK_SECRET),
    ) as (_, client):
        incident = await make_incident(client, severity="sev1", services=["checkout"])
        started = time.monotonic()
        (slack,) = await eventually(lambda: at(receiver, "/slack"), message="level 0")
        assert time.monotonic() - started < 1, "level 0 goes out at once"
        engagement = await _engagement(client, incident)
        assert engagement["escalation_level"] == 0
        assert engagement["sre_engaged_at"] is None
        due = datetime.fromisoformat(engagement["next_escalation_at"])
        assert (
            timedelta(seconds=1.1)
            < due - datetime.fromisoformat(incident["created_at"])
            < timedelta(seconds=2)
        )

        # Level 1: PagerDuty, about 1.2 s after the start.
        (trigger,) = await eventually(lambda: pagerduty_events(receiver), message="level 1")
        late = time.monotonic() - started - 1.2
        assert -0.1 < late < 1.0, f"level 1 fired {late:.2f} s after due"
        assert trigger["event_action"] == "trigger"
        assert trigger["routing_key"] == "R0UT1NGKEY"
        assert trigger["dedup_key"] == incident["id"]
        assert trigger["payload"]["severity"] == "critical"
        assert trigger["payload"]["source"] == "checkout"
        assert "INC-1" in trigger["payload"]["summary"]
        hrefs = [link["href"] for link in trigger["links"]]
        assert hrefs[0].endswith(f"/api/v1/incidents/{incident['reference']}/page")
        assert "/join/" in hrefs[1]

        await join(client, incident, "alice", "sre")
        acknowledged = await eventually(
            lambda: [e for e in pagerduty_events(receiver) if e["event_action"] == "acknowledge"],
            message="the acknowledge",
        )
        assert acknowledged == [
            {
                "routing_key": "R0UT1NGKEY",
                "event_action": "acknowledge",
                "dedup_key": incident["id"],
            }
        ]
        engagement = await _engagement(client, incident)
        assert engagement["escalation_level"] == 1
        assert engagement["next_escalation_at"] is None
        assert engagement["sre_engaged_at"] is not None

        await asyncio.sleep(3.6 - (time.monotonic() - started))  # past level 2's time
        assert at(receiver, "/hook") == [], "level 2 never fires once an SRE is on it"
        assert [e["level"] for e in await _escalations(client, incident)] == [0, 1]

        await move(client, incident, "resolved")
        await eventually(
            lambda: [e for e in pagerduty_events(receiver) if e["event_action"] == "resolve"],
            message="the resolve",
        )
        summary = (await client.get("/api/v1/reports/summary")).json()
        assert summary["escalations"] == {"0": 1, "1": 1}
        assert summary["not_engaged_within_policy"] == 0, "an SRE joined before the last level"

    blocks = {block["type"]: block for block in slack["blocks"]}
    assert "INC-1" in blocks["header"]["text"]["text"]
    assert "Escalation level 0" in slack["text"]
    buttons = {b["text"]["text"]: b["url"] for b in blocks["actions"]["elements"]}
    assert buttons["Open the incident"].endswith(f"/incidents/{incident['reference']}/page")
    assert "/join/" in buttons["I'm on it (SRE)"]
    facts = [field["text"] for field in blocks["section"]["fields"]]
    assert "*Severity*\nsev1" in facts
    assert "*Services*\ncheckout" in facts


async def test_mitigating_stops_escalation_for_good(backend, tmp_path, receiver):
    async with running_app(backend, tmp_path, sre_escalation=policy(receiver, 0, 0.02)) as (
        _,
        client,
    ):
        incident = await make_incident(client, severity="sev2")
        await eventually(lambda: at(receiver, "/slack"), message="level 0")
        assert (await move(client, incident, "mitigated")).status_code == 200
        assert (await move(client, incident, "investigating")).status_code == 200  # reopened
        await asyncio.sleep(2)
        assert at(receiver, "/pd") == []
        engagement = await _engagement(client, incident)
        summary = (await client.get("/api/v1/reports/summary")).json()
    assert summary["escalations"] == {"0": 1}
    assert summary["not_engaged_within_policy"] == 1, "no SRE ever joined"
    assert engagement == {
        "sre_engaged_at": None,
        "escalation_level": 0,
        "next_escalation_at": None,
    }


async def test_declined_incidents_stop_escalating(backend, tmp_path, receiver):
    async with running_app(backend, tmp_path, sre_escalation=policy(receiver, 0.02)) as (
        _,
        client,
    ):
        incident = await make_incident(client, severity="sev2")
        declined = await client.patch(
            f"/api/v1/incidents/{incident['id']}",
            json={"status": "declined", "reason": "false_positive"},
        )
        assert declined.status_code == 200, declined.text
        await asyncio.sleep(2)
        assert receiver.received == []
        assert await _escalations(client, incident) == []


async def test_a_severity_raised_into_the_policy_starts_it(backend, tmp_path, receiver):
    escalation = policy(receiver, 0, 0.02, severities=["sev1", "sev2"])
    async with running_app(backend, tmp_path, sre_escalation=escalation) as (_, client):
        minor = await make_incident(client, severity="sev3")
        await asyncio.sleep(0.5)
        assert receiver.received == []
        assert (await _engagement(client, minor))["escalation_level"] is None
        raised = await client.patch(f"/api/v1/incidents/{minor['id']}", json={"severity": "sev1"})
        assert raised.status_code == 200
        (slack,) = await eventually(lambda: at(receiver, "/slack"), message="level 0")
        await eventually(lambda: at(receiver, "/pd"), message="level 1")
        # Lowered and raised again: escalation started once, and does not start over.
        for severity in ("sev3", "sev2"):
            await client.patch(f"/api/v1/incidents/{minor['id']}", json={"severity": severity})
        await asyncio.sleep(0.5)
        assert len(at(receiver, "/slack")) == 1
        assert [e["level"] for e in await _escalations(client, minor)] == [0, 1]
        assert (await _escalations(client, minor))[1]["final"] is True
    assert "sev1" in slack["text"]


async def test_an_sre_on_the_incident_before_a_level_is_due_means_it_never_fires(
    backend, tmp_path, receiver
):
    async with running_app(backend, tmp_path, sre_escalation=policy(receiver, 0.02)) as (
        _,
        client,
    ):
        incident = await make_incident(client, severity="sev1")
        assert (await _engagement(client, incident))["escalation_level"] is None
        await join(client, incident, "bob", "developer")
        changed = await client.patch(
            f"/api/v1/incidents/{incident['id']}/participants/bob", json={"role": "sre"}
        )
        assert changed.status_code == 200, changed.text
        await asyncio.sleep(2)
        assert receiver.received == []
        engagement = await _engagement(client, incident)
    assert engagement["sre_engaged_at"] is not None
    assert engagement["next_escalation_at"] is None


async def test_a_service_with_levels_of_its_own_replaces_the_default(backend, tmp_path, receiver):
    own = {"levels": [{"after_minutes": 0, "targets": [{"url": f"{receiver.url}/payments"}]}]}
    escalation = json.loads(policy(receiver, 0)) | {"services": {"payments": own}}
    async with running_app(backend, tmp_path, sre_escalation=json.dumps(escalation)) as (
        _,
        client,
    ):
        paying = await make_incident(client, services=["search", "payments"])
        searching = await make_incident(client, services=["search"])
        (sent,) = await eventually(lambda: at(receiver, "/payments"), message="payments")
        (slack,) = await eventually(lambda: at(receiver, "/slack"), message="the default")
    assert sent["data"]["incident"]["id"] == paying["id"]
    assert searching["reference"] in slack["text"]


async def test_a_service_escalation_in_the_catalog_replaces_the_policy(backend, tmp_path, receiver):
    """The catalog's `escalation` of a service: its levels, to its targets, PagerDuty's
    acknowledge included (secrets and routing keys come from the catalog row)."""
    receiver.default = 202
    async with running_app(backend, tmp_path, sre_escalation=policy(receiver, 0)) as (
        _,
        client,
    ):
        pagerduty = {"url": f"{receiver.url}/pd", "format": "pagerduty", "routing_key": "CAT"}
        levels = [
            {"after_minutes": 0, "targets": [{"url": f"{receiver.url}/catalog"}]},
            {"after_minutes": 0.01, "targets": [pagerduty]},
        ]
        described = await client.post(
            "/api/v1/services", json={"name": "checkout", "escalation": {"levels": levels}}
        )
        assert described.status_code == 201, described.text
        incident = await make_incident(client, severity="sev1", services=["checkout"])
        (sent,) = await eventually(lambda: at(receiver, "/catalog"), message="catalog level 0")
        (trigger,) = await eventually(lambda: pagerduty_events(receiver), message="level 1")
        await join(client, incident, "erin", "sre")
        await eventually(lambda: len(pagerduty_events(receiver)) == 2, message="acknowledge")
        assert at(receiver, "/slack") == [], "the policy's default levels are replaced"
    assert sent["data"]["incident"]["id"] == incident["id"]
    assert trigger["routing_key"] == "CAT"
    assert pagerduty_events(receiver)[1]["event_action"] == "acknowledge"


async def test_a_stakeholder_update_moves_escalation_as_a_patch_would(backend, tmp_path, receiver):
    escalation = policy(receiver, 0, 0.05, severities=["sev1"])
    async with running_app(backend, tmp_path, sre_escalation=escalation) as (_, client):
        incident = await make_incident(client, severity="sev3")
        updates = f"/api/v1/incidents/{incident['id']}/updates"
        raised = await client.post(
            updates,
            json={"message": "Worse than we thought", "audience": "internal", "severity": "sev1"},
        )
        assert raised.status_code == 201, raised.text
        await eventually(lambda: at(receiver, "/slack"), message="level 0 after the raise")
        assert (await _engagement(client, incident))["next_escalation_at"] is not None
        mitigated = await client.post(
            updates,
            json={"message": "Mitigated", "audience": "stakeholders", "status": "mitigated"},
        )
        assert mitigated.status_code == 201, mitigated.text
        assert (await _engagement(client, incident))["next_escalation_at"] is None
        await asyncio.sleep(3.5)
        assert at(receiver, "/pd") == []


async def test_an_alert_group_opened_and_raised_in_one_notification_escalates_once(
    backend, tmp_path, receiver
):
    """A notification whose new alert opens an incident while another of its alerts,
    already on an older incident, raises the new one's severity: escalation, started at
    the opening, is not started a second time in the same transaction."""
    escalation = policy(receiver, 0, 60)
    async with running_app(backend, tmp_path, sre_escalation=escalation) as (_, client):
        old = notification("g-old", ("fp-old", "critical"))
        assert (await send(client, old)).status_code == 200
        both = notification("g-new", ("fp-old", "critical"), ("fp-new", "warning"))
        response = await send(client, both)
        assert response.status_code == 200, response.text
        (reference,) = response.json()["opened"]
        opened = (await client.get(f"/api/v1/incidents/{reference}")).json()
        assert opened["severity"] == "sev1"  # raised by the critical alert it came with
        assert [e["level"] for e in await _escalations(client, opened)] == [0]
        assert (await _engagement(client, opened))["escalation_level"] == 0


def notification(group: str, *alerts: tuple[str, str]) -> dict:
    """A firing notification of `group` with (fingerprint, severity) alerts."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "muster",
        "groupKey": group,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Disk", "service": "db", "severity": severity},
                "startsAt": "2026-11-28T14:01:26Z",
                "fingerprint": fingerprint,
            }
            for fingerprint, severity in alerts
        ],
    }
