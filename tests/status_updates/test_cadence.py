"""The update cadence: `update_due` once per missed period, counted from the last update.

The app's own timer loop fires the cadence; the stopped clock decides what is due.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from app.core.db import Database
from app.core.events import OutboxEvent
from app.core.settings import Settings
from app.main import create_app
from tests.clock import T0
from tests.conftest import ADMIN_KEY, fresh_database, make_settings
from tests.factories import make_incident, move, timeline
from tests.notifications.receiver import eventually
from tests.status_updates.test_updates import publish

QUIET = 1.5  # seconds: three polls of the timer loop, in which nothing may fire


DEFAULT = {"sev1": 30.0, "sev2": 60.0}


@pytest.fixture
async def cadenced(backend, tmp_path) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    """An app of its own with the default cadence (the suite's apps have none)."""
    async with fresh_database(backend, tmp_path) as url:
        application = create_app(make_settings(url, update_cadence=DEFAULT))
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://muster.test", headers=headers
            ) as client:
                yield client, application.state.database


def test_the_default_cadence_is_the_documented_one():
    assert Settings(_env_file=None).update_cadence == DEFAULT  # type: ignore[call-arg]


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def dues(client, incident: dict) -> list[dict]:
    return await timeline(client, incident, kind="update_due")


async def wait_for_dues(client, incident: dict, count: int) -> list[dict]:
    async def enough() -> list[dict] | None:
        found = await dues(client, incident)
        return found if len(found) >= count else None

    await eventually(enough, timeout=20, message=f"{count} update_due entries")
    await asyncio.sleep(QUIET)  # and no more than that
    return await dues(client, incident)


async def test_update_due_once_per_missed_period_counted_from_the_last_update(cadenced, clock):
    client, database = cadenced
    incident = await make_incident(client, severity="sev1")  # every 30 minutes by default
    quiet = await make_incident(client, severity="sev3")  # no cadence
    clock.advance(minutes=29)
    await asyncio.sleep(QUIET)
    assert await dues(client, incident) == []

    clock.advance(minutes=2)
    (first,) = await wait_for_dues(client, incident, 1)
    assert first["occurred_at"] == at(30)
    assert first["author"] == "muster"
    assert first["data"] == {
        "last_update_at": None,
        "cadence_minutes": 30.0,
        "due_since": first["data"]["due_since"],
    }
    assert first["data"]["due_since"].startswith(at(30).removesuffix("Z"))

    clock.set(T0 + timedelta(minutes=45))
    update = (await publish(client, incident)).json()
    clock.set(T0 + timedelta(minutes=74))  # 29 minutes after the update
    await asyncio.sleep(QUIET)
    assert len(await dues(client, incident)) == 1

    clock.set(T0 + timedelta(minutes=136))  # three periods missed: at 75, 105 and 135
    found = await wait_for_dues(client, incident, 4)
    assert [e["occurred_at"] for e in found] == [at(30), at(75), at(105), at(135)]
    assert {e["data"]["last_update_at"] for e in found[1:]} == {
        update["published_at"].replace("Z", "+00:00")
    }

    # A severity raised later is noticed at the next turn: the sev3 incident, raised to
    # sev2 (every 60 minutes), has had no update since it opened.
    await client.patch(f"/api/v1/incidents/{quiet['id']}", json={"severity": "sev2"})
    clock.set(T0 + timedelta(minutes=151))
    (raised,) = await wait_for_dues(client, quiet, 1)
    assert raised["data"]["cadence_minutes"] == 60.0

    # Resolved: no more reminders, however long it stays so.
    await move(client, incident, "resolved")
    await move(client, quiet, "closed")
    clock.set(T0 + timedelta(hours=6))
    await asyncio.sleep(QUIET)
    assert len(await dues(client, incident)) == 4
    assert len(await dues(client, quiet)) == 1
    async with database.sessionmaker() as session:
        events = (
            await session.scalars(
                select(OutboxEvent.data).where(OutboxEvent.type == "incident.update_due")
            )
        ).all()
    assert sorted(e["incident"]["reference"] for e in events) == sorted(
        [incident["reference"]] * 4 + [quiet["reference"]]
    )
