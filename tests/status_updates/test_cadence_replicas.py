"""Two real `muster serve` replicas on one database (PostgreSQL, or one SQLite file)
share every cadence timer: each missed period gives exactly one `update_due`, whichever
replica fires it."""

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.core.db import Database
from app.core.events import OutboxEvent
from tests.conftest import BACKENDS, fresh_database, make_settings
from tests.notifications.receiver import eventually
from tests.notifications.test_processes import HEADERS, Muster

PERIOD = timedelta(seconds=3)  # a one-minute cadence, shortened


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_two_replicas_fire_update_due_once_per_missed_period(tmp_path, backend_name):
    cadence = {
        "MUSTER_UPDATE_CADENCE": f'{{"sev1": {PERIOD.total_seconds() / 60}}}',
        "MUSTER_TIMER_POLL_SECONDS": "0.1",
    }
    processes: list[Muster] = []
    try:
        async with fresh_database(backend_name, tmp_path) as database_url:
            for name in ("one", "two"):
                process = Muster(tmp_path, database_url, name, **cadence).start()
                processes.append(process)
                await process.ready()
            one, two = (
                httpx.AsyncClient(base_url=p.base, headers=HEADERS, timeout=30) for p in processes
            )
            async with one, two:
                created = await one.post(
                    "/api/v1/incidents", json={"title": "Checkout down", "severity": "sev1"}
                )
                assert created.status_code == 201, created.text
                incident = created.json()
                path = f"/api/v1/incidents/{incident['id']}"

                async def dues(count: int) -> list[datetime] | None:
                    entries = (
                        await two.get(f"{path}/timeline", params={"kind": "update_due"})
                    ).json()["items"]
                    found = [moment(e["data"]["due_since"]) for e in entries]
                    return found if len(found) >= count else None

                await eventually(lambda: dues(3), timeout=30, message="three missed periods")
                update = await two.post(
                    f"{path}/updates", json={"message": "Rolling back", "audience": "stakeholders"}
                )
                assert update.status_code == 201, update.text
                published = moment(update.json()["published_at"])
                before = [d for d in await dues(0) or [] if d <= published]
                after = await eventually(
                    lambda: dues(len(before) + 2), timeout=30, message="two periods after it"
                )
                assert (await one.patch(path, json={"status": "closed"})).status_code == 200
                await asyncio.sleep(1)
                final = await dues(0)
            database = Database.from_settings(make_settings(database_url))
            try:
                async with database.sessionmaker() as session:
                    events = await session.scalar(
                        select(func.count())
                        .select_from(OutboxEvent)
                        .where(OutboxEvent.type == "incident.update_due")
                    )
            finally:
                await database.dispose()

        opened = moment(incident["created_at"])
        expected_before = [opened + PERIOD * k for k in range(1, len(before) + 1)]
        assert before == expected_before, "one per period from the opening, none twice"
        assert before[-1] + PERIOD > published, "none missed before the update"
        later = after[len(before) :]
        assert later[:2] == [published + PERIOD, published + 2 * PERIOD]
        assert final is not None
        assert len(final) == len(set(final))
        assert events == len(final)
    finally:
        for process in processes:
            process.kill()
