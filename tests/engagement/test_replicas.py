"""Two `muster serve` replicas on one PostgreSQL database, one SIGKILLed between two
escalation levels: every level of every incident fires exactly once, on time, from the
database's timers, whichever replica claims it (and a restarted replica fires nothing
again)."""

import asyncio
import json
import time
from collections import Counter

import httpx
from sqlalchemy import select

from app.core.events import OutboxEvent
from app.core.timers import Timer, TimerStatus
from app.engagement.service import ESCALATION
from tests.notifications.receiver import Receiver, eventually
from tests.notifications.test_processes import HEADERS, Muster, postgres

AFTER_SECONDS = (0, 2.4, 6.0)
INCIDENTS = 6


def _policy(receiver: Receiver) -> str:
    levels = [
        {"after_minutes": seconds / 60, "targets": [{"url": f"{receiver.url}/level-{n}"}]}
        for n, seconds in enumerate(AFTER_SECONDS)
    ]
    return json.dumps({"levels": levels})


async def _escalations(database) -> list[dict]:
    async with database.sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxEvent.data).where(OutboxEvent.type == "incident.escalated")
        )
        return list(rows.all())


async def test_each_level_fires_once_on_time_across_replicas_and_a_sigkill(tmp_path):
    receiver = Receiver().start()
    replicas: list[Muster] = []
    try:
        async with postgres(tmp_path) as (url, database):
            env = {"MUSTER_SRE_ESCALATION": _policy(receiver), "MUSTER_TIMER_POLL_SECONDS": "0.2"}
            replicas = [Muster(tmp_path, url, name, **env).start() for name in ("a", "b")]
            for replica in replicas:
                await replica.ready()
            opened = []
            for n in range(INCIDENTS):
                base = replicas[n % 2].base
                async with httpx.AsyncClient(base_url=base, headers=HEADERS) as http:
                    made = await http.post(
                        "/api/v1/incidents", json={"title": f"Down {n}", "severity": "sev1"}
                    )
                    assert made.status_code == 201, made.text
                    opened.append(made.json()["id"])
            started = time.monotonic()

            # Level 1 due at 2.4 s: wait for it, then kill a replica before level 2 (6 s).
            await eventually(lambda: _all_at(database, 1), timeout=10, message="level 1")
            assert time.monotonic() - started < AFTER_SECONDS[2] - 1
            replicas[0].kill()
            await eventually(lambda: _all_at(database, 2), timeout=15, message="level 2")
            # A replica started again afterwards finds nothing left to fire.
            replicas[0] = Muster(tmp_path, url, "a-again", **env).start()
            await replicas[0].ready()
            await asyncio.sleep(1)

            escalations = await _escalations(database)
            async with database.sessionmaker() as session:
                timers = (
                    await session.scalars(select(Timer).where(Timer.kind == ESCALATION))
                ).all()
    finally:
        for replica in replicas:
            replica.kill()
        receiver.stop()

    fired = Counter((e["incident"]["id"], e["level"]) for e in escalations)
    assert fired == {(incident, level): 1 for incident in opened for level in range(3)}
    for event in escalations:  # on time: within about a second of the level's due time
        due = AFTER_SECONDS[event["level"]]
        assert due - 0.05 <= event["waited_seconds"] < due + 1.2, event
    # Levels 1 and 2 were timers, each fired once; level 0 went out with the incident.
    assert sorted(t.key for t in timers) == sorted(["level-1", "level-2"] * INCIDENTS)
    assert {t.status for t in timers} == {TimerStatus.FIRED}
    for level in range(3):
        sent = {
            r.json()["data"]["incident"]["id"]
            for r in receiver.received
            if r.path == f"/level-{level}"
        }
        assert sent == set(opened), level


async def _all_at(database, level: int) -> bool:
    """Every incident has reached `level`."""
    return sum(1 for e in await _escalations(database) if e["level"] == level) == INCIDENTS
