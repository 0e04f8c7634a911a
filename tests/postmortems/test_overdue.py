"""`action_item.overdue`: once per due date, by the database timer, across replicas."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from tests.factories import make_incident, timeline
from tests.notifications.receiver import Receiver, eventually
from tests.notifications.test_processes import HEADERS, Muster, postgres
from tests.postmortems.helpers import add_item, events, patch_item

POLL = 0.5  # MUSTER_TIMER_POLL_SECONDS' default: a timer fires within about this


async def overdue_events(database) -> list[dict]:
    return await events(database, "action_item.overdue")


@pytest.mark.usefixtures("clock")  # 2026-03-02
async def test_an_item_past_its_due_date_is_announced_once(client, database):
    incident = await make_incident(client)
    item = await add_item(client, incident, title="Pool alert", due="2026-03-01")
    (event,) = await eventually(lambda: overdue_events(database), message="overdue")
    assert event["action_item"]["id"] == item["id"]
    assert event["action_item"]["overdue"] is True
    assert event["incident"]["reference"] == incident["reference"]
    await patch_item(client, item, title="Pool saturation alert")  # not a new due date
    await asyncio.sleep(3 * POLL)
    assert len(await overdue_events(database)) == 1
    summaries = [e["summary"] for e in await timeline(client, incident, kind="action_item")]
    assert "Action item overdue: Pool alert (due 2026-03-01)" in summaries


async def test_the_reminder_waits_for_the_due_date_and_a_new_date_gets_one(client, database, clock):
    incident = await make_incident(client)
    item = await add_item(client, incident, due="2026-03-03")  # today is 2026-03-02
    await asyncio.sleep(3 * POLL)
    assert await overdue_events(database) == []
    clock.set(datetime(2026, 3, 4, 0, 0, 1, tzinfo=UTC))
    await eventually(lambda: overdue_events(database), message="overdue on the 4th")
    await patch_item(client, item, due="2026-03-03")  # unchanged: no second reminder
    await patch_item(client, item, due="2026-03-02")  # a new, passed, due date: one more
    found = await eventually(lambda: _at_least(database, 2), message="the new due date's reminder")
    # (the stopped clock gives both the same time: compared as a set)
    assert sorted(e["action_item"]["due"] for e in found) == ["2026-03-02", "2026-03-03"]


async def _at_least(database, count: int) -> list[dict] | None:
    found = await overdue_events(database)
    return found if len(found) >= count else None


async def test_an_item_finished_in_time_is_never_announced(client, database, clock):
    incident = await make_incident(client)
    item = await add_item(client, incident, due="2026-03-03")
    await patch_item(client, item, status="done")
    clock.set(datetime(2026, 3, 10, tzinfo=UTC))
    await add_item(client, incident, title="Done already", due="2026-03-01", status="done")
    await asyncio.sleep(3 * POLL)
    assert await overdue_events(database) == []


async def test_an_overdue_item_fires_once_across_two_real_replicas(tmp_path):
    receiver = Receiver().start()
    replicas: list[Muster] = []
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    try:
        async with postgres(tmp_path) as (url, database):
            for name in ("one", "two"):
                replica = Muster(tmp_path, url, name).start()
                replicas.append(replica)
                await replica.ready()
            clients = [
                httpx.AsyncClient(base_url=r.base, headers=HEADERS, timeout=30) for r in replicas
            ]
            try:
                subscription = await clients[0].post(
                    "/api/v1/subscriptions",
                    json={"url": receiver.url, "events": ["action_item.overdue"]},
                )
                assert subscription.status_code == 201, subscription.text
                incident = (
                    await clients[0].post("/api/v1/incidents", json={"title": "Pool exhausted"})
                ).json()
                items = []
                for n in range(10):
                    response = await clients[n % 2].post(
                        f"/api/v1/incidents/{incident['id']}/action-items",
                        json={"title": f"measure {n}", "due": yesterday},
                    )
                    assert response.status_code == 201, response.text
                    items.append(response.json()["id"])
            finally:
                for http in clients:
                    await http.aclose()

            await eventually(
                lambda: len(receiver.received) >= len(items), timeout=30, message="10 reminders"
            )
            await asyncio.sleep(6 * POLL)  # time for a second firing, were there one
            announced = [r.json()["data"]["action_item"]["id"] for r in receiver.received]
            assert sorted(announced) == sorted(items)
            assert len(await overdue_events(database)) == len(items)
    finally:
        for replica in replicas:
            replica.kill()
        receiver.stop()
