"""Stakeholder updates on a cadence: an open incident whose last update is older than
its severity's cadence (`MUSTER_UPDATE_CADENCE`) gets an `update_due` timeline entry and
an `incident.update_due` event, once per missed period.

One timer per incident (kind `update_cadence`), armed when the incident opens with the
cadences of the time in its payload. Each turn reads the incident and its last update
and arms the next turn itself: after an update, when the next period would end; after a
missed period, one period later; for a severity without a cadence, one shortest cadence
later (a raised severity is noticed then). No request moves the timer: a request
holding an incident's lock never waits for the timer's row, so the two cannot
deadlock. The turns end when the incident is final (closed, declined or merged).
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import timers
from app.core.events import emit
from app.core.timers import Timer
from app.incidents.models import Incident
from app.incidents.schemas import IncidentRef
from app.incidents.state import FINAL, OPEN, Status
from app.status_updates import service as update_service
from app.status_updates.events import IncidentUpdateDue
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind

KIND = "update_cadence"
AUTHOR = "muster"


def arm(session: AsyncSession, incident: Incident, cadence: Mapping[str, float]) -> None:
    """Arm the cadence timer of an incident opened in this transaction (none when no
    severity has a cadence); queued with the incident's rows."""
    if cadence:
        timers.schedule_new(
            session,
            kind=KIND,
            subject_id=incident.id,
            due_at=incident.created_at + timedelta(minutes=min(cadence.values())),
            payload={"cadence": dict(cadence)},
        )


async def _arm(
    session: AsyncSession, incident: Incident, due_at: datetime, payload: dict[str, object]
) -> None:
    await timers.schedule(
        session, kind=KIND, subject_id=incident.id, due_at=due_at, payload=payload, rearm=True
    )


async def on_update_due(session: AsyncSession, timer: Timer) -> None:
    """A turn of an incident's cadence (see the module's docstring)."""
    incident = await session.get(Incident, timer.subject_id)
    if incident is None or Status(incident.status) in FINAL:
        return
    cadence: dict[str, float] = timer.payload["cadence"]
    turn = timer.due_at
    next_at = turn + timedelta(minutes=min(cadence.values()))
    minutes = cadence.get(incident.severity)
    if minutes is not None and Status(incident.status) in OPEN:
        period = timedelta(minutes=minutes)
        last = await update_service.last_published_at(session, incident)
        if turn < (last or incident.created_at) + period:
            next_at = (last or incident.created_at) + period
        else:
            _record_due(session, incident, last, minutes, turn)
            next_at = turn + period
    await _arm(session, incident, next_at, timer.payload)


def _record_due(
    session: AsyncSession,
    incident: Incident,
    last: datetime | None,
    minutes: float,
    due_since: datetime,
) -> None:
    since = f"since {last.isoformat(timespec='minutes')}" if last else "yet"
    timeline_service.record(
        session,
        incident,
        EntryKind.UPDATE_DUE,
        f"An update is due: none {since} (every {minutes:g} min for {incident.severity})",
        author=AUTHOR,
        occurred_at=due_since,
        data={
            "last_update_at": last.isoformat() if last else None,
            "cadence_minutes": minutes,
            "due_since": due_since.isoformat(),
        },
    )
    emit(
        session,
        IncidentUpdateDue(
            incident=IncidentRef.of(incident),
            last_update_at=last,
            cadence_minutes=minutes,
            due_since=due_since,
        ),
    )
