"""Prometheus: open incidents by severity and status, time to SRE engagement."""

import re

import httpx
import pytest

from app.flows import participants as participant_flows
from app.incidents import lookup
from app.main import create_app
from app.participants.models import Role
from app.participants.schemas import ParticipantCreate
from tests.conftest import make_settings
from tests.factories import join, make_incident, move

SRE = "muster_time_to_sre_engagement_seconds"


async def scrape(client: httpx.AsyncClient) -> dict[str, float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    samples = re.findall(r"^(\w+(?:\{[^}]*\})?) (\S+)$", response.text, re.MULTILINE)
    return {name: float(value) for name, value in samples}


def open_incidents(severity: str, status: str) -> str:
    return f'muster_open_incidents{{severity="{severity}",status="{status}"}}'


async def test_open_incidents_are_counted_by_severity_and_status_at_scrape_time(client):
    await make_incident(client, severity="sev1")
    await make_incident(client, severity="sev1")
    acknowledged = await make_incident(client, severity="sev2")
    await move(client, acknowledged, "acknowledged")
    resolved = await make_incident(client, severity="sev3")
    await move(client, resolved, "resolved")

    metrics = await scrape(client)
    gauges = {k: v for k, v in metrics.items() if k.startswith("muster_open_incidents{")}
    assert len(gauges) == 16, "every severity and open status, zeros included"
    assert {k: v for k, v in gauges.items() if v} == {
        open_incidents("sev1", "triggered"): 2.0,
        open_incidents("sev2", "acknowledged"): 1.0,
    }
    await move(client, acknowledged, "closed")
    metrics = await scrape(client)
    assert metrics[open_incidents("sev2", "acknowledged")] == 0.0


async def test_the_first_sre_of_an_incident_is_observed_once(client, clock):
    before = await scrape(client)
    first = await make_incident(client)
    clock.advance(minutes=3)
    await join(client, first, "ana", "sre")  # 180 s
    clock.advance(minutes=1)
    await join(client, first, "ben", "sre")  # not the first
    second = await make_incident(client)
    clock.advance(minutes=10)
    cy = await join(client, second, "cy", "observer")
    url = f"/api/v1/incidents/{second['id']}/participants/{cy['id']}"
    await client.patch(url, json={"role": "sre"})  # 600 s, by a role change
    await client.patch(url, json={"role": "observer"})
    await client.patch(url, json={"role": "sre"})  # not the first either
    after = await scrape(client)

    def delta(name: str) -> float:
        return after[name] - before.get(name, 0.0)

    assert delta(f"{SRE}_count") == 2
    # the process-wide sum may be large already: compare without float noise
    assert delta(f"{SRE}_sum") == pytest.approx(780, abs=1e-3)
    assert delta(f'{SRE}_bucket{{le="300.0"}}') == 1
    assert delta(f'{SRE}_bucket{{le="600.0"}}') == 2


async def test_a_join_that_rolls_back_is_not_counted(client, database, clock):
    incident = await make_incident(client)
    clock.advance(minutes=4)
    before = await scrape(client)
    sre = ParticipantCreate(handle="ana", role=Role.SRE)
    async with database.sessionmaker() as session:
        row = await lookup.get_incident(session, incident["id"], for_update=True)
        await participant_flows.join(session, row, sre, actor="test")
        await session.rollback()
    rolled_back = await scrape(client)
    assert rolled_back[f"{SRE}_count"] == before.get(f"{SRE}_count", 0.0)
    participants = await client.get(f"/api/v1/incidents/{incident['id']}/participants")
    assert participants.json()["items"] == [], "the join left nothing behind"

    async with database.sessionmaker() as session:  # the same join, committed: counted
        row = await lookup.get_incident(session, incident["id"], for_update=True)
        await participant_flows.join(session, row, sre, actor="test")
        after_join = await scrape(client)
        assert after_join[f"{SRE}_count"] == rolled_back[f"{SRE}_count"], "not before commit"
        await session.commit()
    committed = await scrape(client)
    assert committed[f"{SRE}_count"] == rolled_back[f"{SRE}_count"] + 1
    assert committed[f"{SRE}_sum"] - rolled_back[f"{SRE}_sum"] == pytest.approx(240, abs=1e-3)


async def test_metrics_are_served_without_the_gauge_when_the_database_is_down():
    settings = make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none", auto_migrate=False)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert "muster_open_incidents" not in response.text
    assert f"{SRE}_count" in response.text
