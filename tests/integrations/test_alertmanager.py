"""Alertmanager's webhook, fed with notifications a real Alertmanager sent."""

import asyncio
import base64
import copy
import json

import httpx
import pytest
from sqlalchemy import event

from app.main import create_app
from tests.conftest import ALERTMANAGER_TOKEN, FIXTURES, make_settings
from tests.core.test_errors import assert_problem
from tests.factories import count_rows, move, timeline

URL = "/api/v1/webhooks/alertmanager"
JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}", "Content-Type": "application/json"}
FIRING = (FIXTURES / "alertmanager" / "firing-two-alerts.json").read_bytes()
RESOLVED = (FIXTURES / "alertmanager" / "resolved.json").read_bytes()


async def send(client: httpx.AsyncClient, body: bytes | dict, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(URL, content=content, headers=AUTH | headers)


async def only_incident(client) -> dict:
    items = (await client.get("/api/v1/incidents")).json()["items"]
    assert len(items) == 1, items
    return items[0]


async def test_a_firing_notification_opens_one_incident(client):
    response = await send(client, FIRING)
    assert response.status_code == 200, response.text
    ack = response.json()
    assert ack["status"] == "accepted"
    incident = await only_incident(client)
    assert ack["opened"] == [incident["reference"]]
    assert incident["title"] == "checkout 5xx ratio above 5%"
    assert incident["severity"] == "sev3"  # warning
    assert incident["services"] == ["checkout"]
    assert incident["labels"] == {
        "alertname": "HighErrorRate",
        "service": "checkout",
        "severity": "warning",
    }
    assert incident["source"] == "alertmanager"
    assert incident["status"] == "triggered"
    assert incident["started_at"] == "2026-11-28T14:01:26.070000Z"

    alerts = (await client.get(f"/api/v1/incidents/{incident['id']}/alerts")).json()["items"]
    assert {a["fingerprint"] for a in alerts} == {"fc08facb203df495", "3be26ca78bf93158"}
    assert all(a["status"] == "firing" and a["ends_at"] is None for a in alerts)
    kinds = [e["kind"] for e in await timeline(client, incident)]
    assert sorted(kinds) == ["alert_firing", "alert_firing", "incident_created"]


@pytest.mark.parametrize("remembered", [True, False], ids=["same-process", "other-replica"])
async def test_the_same_notification_twice_changes_nothing(client, app, database, remembered):
    await send(client, FIRING)
    if not remembered:  # a replica that did not take the first has only the database
        app.state.seen_notifications.clear()
    before = {
        t: await count_rows(database, t)
        for t in ("incidents", "alerts", "timeline_entries", "outbox_events")
    }
    again = await send(client, FIRING)
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "opened": [], "updated": []}
    assert {t: await count_rows(database, t) for t in before} == before


async def test_a_repeat_this_process_committed_costs_no_database_round_trip(client, database):
    await send(client, FIRING)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        again = await send(client, FIRING)
        after_repeat = list(statements)
        other = await send(client, RESOLVED)  # new to this process: claimed, processed
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
    assert again.json()["status"] == "duplicate"
    assert after_repeat == []
    assert other.json()["status"] == "accepted"
    assert sum("alert_notifications" in s for s in statements) == 1  # the claim


async def test_resolution_of_every_alert_mitigates_the_incident(client):
    await send(client, FIRING)
    response = await send(client, RESOLVED)
    assert response.status_code == 200
    incident = await only_incident(client)
    assert response.json()["updated"] == [incident["reference"]]
    assert incident["status"] == "mitigated"
    assert incident["mitigated_at"] is not None
    alerts = (await client.get(f"/api/v1/incidents/{incident['id']}/alerts")).json()["items"]
    assert len(alerts) == 3
    assert all(
        a["status"] == "resolved" and a["ends_at"] == "2026-11-28T14:03:27.287000Z" for a in alerts
    )
    entries = await timeline(client, incident)
    assert [e["kind"] for e in entries].count("alert_resolved") == 3
    last = entries[-1]
    assert (last["kind"], last["author"], last["data"]["to"]) == (
        "status_changed",
        "alertmanager",
        "mitigated",
    )


async def test_partial_resolution_keeps_the_incident_open(client):
    await send(client, FIRING)
    partial = json.loads(RESOLVED)
    partial["alerts"] = partial["alerts"][:1]
    await send(client, partial)
    assert (await only_incident(client))["status"] == "triggered"


async def test_refiring_reopens_a_mitigated_incident(client):
    await send(client, FIRING)
    await send(client, RESOLVED)
    refire = json.loads(FIRING)
    refire["alerts"] = refire["alerts"][:1]
    refire["alerts"][0]["startsAt"] = "2026-11-28T14:10:00Z"
    await send(client, refire)
    incident = await only_incident(client)
    assert incident["status"] == "investigating"


async def test_firing_after_resolution_opens_a_linked_incident(client):
    await send(client, FIRING)
    first = await only_incident(client)
    await move(client, first, "resolved")
    refire = json.loads(FIRING)
    refire["alerts"][0]["startsAt"] = "2026-11-28T15:00:00Z"
    response = await send(client, refire)
    assert len(response.json()["opened"]) == 1
    newest = (await client.get("/api/v1/incidents")).json()["items"][0]
    assert newest["id"] != first["id"]
    assert newest["recurrence_of"] == first["id"]
    (opened,) = await timeline(client, newest, kind="incident_created")
    assert opened["summary"].endswith(f"recurrence of {first['reference']}")


async def test_new_alerts_of_the_group_join_and_raise_severity(client):
    await send(client, FIRING)
    later = json.loads(FIRING)
    alert = copy.deepcopy(later["alerts"][0])
    alert["labels"] |= {"instance": "checkout-9:8080", "severity": "critical"}
    alert["fingerprint"] = "aaaaaaaaaaaaaaaa"
    later["alerts"].append(alert)
    await send(client, later)
    incident = await only_incident(client)
    assert incident["severity"] == "sev1"
    assert (
        len((await client.get(f"/api/v1/incidents/{incident['id']}/alerts")).json()["items"]) == 3
    )


async def test_an_alert_stays_with_the_open_incident_of_another_group(client):
    await send(client, FIRING)
    first = await only_incident(client)
    other = json.loads(FIRING)
    other["groupKey"] = '{}:{alertname="HighErrorRate", instance="checkout-1"}'
    shared = other["alerts"][0]  # already firing on the first group's incident
    fresh = copy.deepcopy(shared) | {"fingerprint": "bbbbbbbbbbbbbbbb"}
    other["alerts"] = [shared, fresh]
    ack = (await send(client, other)).json()
    assert ack["updated"] == [first["reference"]]
    (opened,) = ack["opened"]
    # Next time the group's open incident is found by its group alone (none of its
    # alerts is in the notification), and the new alert joins it.
    later = copy.deepcopy(other)
    joining = copy.deepcopy(shared) | {"fingerprint": "cccccccccccccccc"}
    joining["labels"] = joining["labels"] | {"severity": "critical"}
    later["alerts"] = [shared, joining]
    ack = (await send(client, later)).json()
    assert ack["opened"] == []
    assert sorted(ack["updated"]) == sorted([first["reference"], opened])

    def fingerprints(incident: dict) -> list[str]:
        return sorted(a["fingerprint"] for a in incident["items"])

    second = await client.get(f"/api/v1/incidents/{opened}")
    assert second.json()["severity"] == "sev1"
    assert fingerprints((await client.get(f"/api/v1/incidents/{opened}/alerts")).json()) == [
        "bbbbbbbbbbbbbbbb",
        "cccccccccccccccc",
    ]
    assert fingerprints(
        (await client.get(f"/api/v1/incidents/{first['id']}/alerts")).json()
    ) == sorted(["fc08facb203df495", "3be26ca78bf93158"])


async def test_unknown_fields_of_newer_alertmanagers_are_accepted(client):
    newer = json.loads(FIRING) | {"notification_reason": "new_alerts", "routeLabels": {"team": "x"}}
    newer["alerts"][0]["extra"] = {"nested": True}
    newer["truncatedAlerts"] = 3
    assert (await send(client, newer)).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong",
        f"Basic {base64.b64encode(b'am:am-secret-token').decode()}",
        "am-secret-token",
    ],
)
async def test_wrong_credentials_are_401_and_change_nothing(client, database, authorization):
    headers = {"Content-Type": "application/json"} | (
        {"Authorization": authorization} if authorization else {}
    )
    response = await client.post(URL, content=FIRING, headers=headers)
    assert_problem(response, 401)
    assert await count_rows(database, "incidents") == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 422),
        (b"", 422),
        (
            json.dumps(
                {"version": "3", "groupKey": "x", "status": "firing", "alerts": []}
            ).encode(),
            422,
        ),
        (json.dumps({"version": "4", "status": "firing", "alerts": []}).encode(), 422),
        (
            json.dumps(
                {"version": "4", "groupKey": "g", "status": "firing", "alerts": [{"status": "on"}]}
            ).encode(),
            422,
        ),
        (json.dumps([1, 2]).encode(), 422),
    ],
)
async def test_malformed_bodies_are_4xx_problems(client, database, body, status):
    assert_problem(await send(client, body), status)
    assert await count_rows(database, "alert_notifications") == 0


async def test_a_body_over_the_limit_is_413(client):
    huge = json.loads(FIRING)
    huge["commonAnnotations"]["description"] = "x" * (1024 * 1024)
    assert_problem(await send(client, huge), 413)


async def test_concurrent_duplicates_open_one_incident(client, database):
    responses = await asyncio.gather(*(send(client, FIRING) for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert sorted(r.json()["status"] for r in responses) == ["accepted"] + ["duplicate"] * 9
    assert await count_rows(database, "incidents") == 1
    assert await count_rows(database, "alerts") == 2


async def test_concurrent_different_notifications_of_a_new_group_share_one_incident(
    client, database
):
    base = json.loads(FIRING)
    bodies = []
    for n in range(6):
        body = copy.deepcopy(base)
        body["alerts"] = [copy.deepcopy(base["alerts"][0])]
        body["alerts"][0]["fingerprint"] = f"{n:016x}"
        body["alerts"][0]["labels"]["instance"] = f"checkout-{n}:8080"
        bodies.append(body)
    responses = await asyncio.gather(*(send(client, body) for body in bodies))
    assert all(r.status_code == 200 for r in responses)
    assert await count_rows(database, "incidents") == 1
    assert await count_rows(database, "alerts") == 6


async def test_unconfigured_credentials_refuse_with_503(tmp_path):
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/x.db", alertmanager_token=None))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post(URL, content=FIRING, headers=AUTH)
    assert_problem(response, 503)
    assert "MUSTER_ALERTMANAGER_TOKEN" in response.json()["detail"]


async def test_basic_auth_when_configured(tmp_path):
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/x.db",
        alertmanager_token=None,
        alertmanager_basic_auth="am:pw",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            good = {"Authorization": f"Basic {base64.b64encode(b'am:pw').decode()}", **JSON}
            bad = {"Authorization": f"Basic {base64.b64encode(b'am:nope').decode()}", **JSON}
            assert (await http.post(URL, content=FIRING, headers=good)).status_code == 200
            assert (await http.post(URL, content=FIRING, headers=bad)).status_code == 401


async def test_a_body_that_is_not_json_typed_is_415(client, database):
    response = await client.post(
        URL, content=FIRING, headers={"Authorization": AUTH["Authorization"]}
    )
    assert "Content-Type: application/json" in assert_problem(response, 415)["detail"]
    response = await client.post(
        URL,
        content=FIRING,
        headers={"Authorization": AUTH["Authorization"], "Content-Type": "text/plain"},
    )
    assert "text/plain" in assert_problem(response, 415)["detail"]
    assert await count_rows(database, "incidents") == 0
