"""Escalation until an SRE joins: started, fired level by level, stopped for good.

Each pending level is a timer (`app.core.timers`, kind `ESCALATION`, key `level-N`); the
engagement row records how far it went. The row is locked (`FOR UPDATE`) by whatever
changes it, so a level firing and an SRE joining at the same moment are serialised: the
level either fired before the join committed, or sees the join and stops.
"""

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import timers
from app.core.clock import utcnow
from app.core.db import add_row, insert_ignoring_conflict, table_of
from app.core.events import emit
from app.engagement.events import IncidentEscalated
from app.engagement.models import Engagement
from app.engagement.policy import EscalationPolicy, Levels, catalog_levels, schedule_for
from app.incidents.models import Incident
from app.incidents.schemas import IncidentOut
from app.incidents.state import Status
from app.participants.models import Participant, Role
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind

ESCALATION = "escalation"  # the timer kind
ACTOR = "muster"
# While the incident is in one of these, levels fire; any later status stops escalation.
ESCALATING = frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED, Status.INVESTIGATING})


async def get(session: AsyncSession, incident_id: uuid.UUID) -> Engagement | None:
    return await session.get(Engagement, incident_id)


async def _locked(session: AsyncSession, incident_id: uuid.UUID) -> Engagement:
    """The incident's engagement row, made if missing, locked for this transaction."""
    row = {"incident_id": incident_id, "schedule": [], "updated_at": utcnow()}
    await insert_ignoring_conflict(session, Engagement, row, conflict_on=["incident_id"])
    engagement = await session.scalar(
        select(Engagement)
        .where(col(Engagement.incident_id) == incident_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert engagement is not None
    return engagement


async def _sre_on(session: AsyncSession, incident: Incident) -> bool:
    return bool(
        await session.scalar(
            select(
                exists().where(
                    col(Participant.incident_id) == incident.id,
                    col(Participant.role) == Role.SRE,
                    col(Participant.left_at).is_(None),
                )
            )
        )
    )


def _level_timer(incident: Incident, level: int, due: datetime) -> dict[str, Any]:
    """The `timers.schedule` arguments of one level's timer."""
    return {
        "kind": ESCALATION,
        "subject_id": incident.id,
        "key": f"level-{level}",
        "due_at": due,
        "payload": {"level": level},
    }


async def start(session: AsyncSession, incident: Incident, policy: EscalationPolicy) -> None:
    """Start escalating the incident if the policy covers it and nothing stopped it yet.

    Once only: an escalation that started (or an SRE who engaged) is never started again.
    A level due at once (level 0 at 0 minutes) fires in this transaction.
    """
    if not policy.covers(incident.severity) or incident.status not in ESCALATING:
        return
    catalog = await catalog_levels(session, incident.services)
    policy_key, levels = schedule_for(policy, incident.services, catalog)
    if not levels:
        return
    engagement = await _locked(session, incident.id)
    if engagement.started_at is not None or engagement.sre_engaged_at is not None:
        return
    if await _sre_on(session, incident):
        return
    engagement.policy = policy_key
    engagement.schedule = [level.after_minutes for level in levels]
    engagement.started_at = utcnow()
    await _arm(session, incident, engagement, 0)


def start_new(
    session: AsyncSession,
    incident: Incident,
    policy: EscalationPolicy,
    catalog: Mapping[str, Levels],
) -> None:
    """`start` for an incident opened in this transaction, with its services' `catalog`
    levels already read: nothing can have started or stopped its escalation, nor can
    an SRE be on it yet, so there is nothing to look up or lock. The levels due at once
    fire, and the engagement row and the next level's timer are queued with the
    incident's other rows: an opening pays no round trip for its escalation."""
    if not policy.covers(incident.severity) or incident.status not in ESCALATING:
        return
    policy_key, levels = schedule_for(policy, incident.services, catalog)
    if not levels:
        return
    started = utcnow()
    schedule = [level.after_minutes for level in levels]
    due = [started + timedelta(minutes=minutes) for minutes in schedule]
    following = 0  # the next level to fire
    while following < len(schedule) and due[following] <= started:
        _announce(session, incident, started, schedule, following)
        following += 1
    next_at = due[following] if following < len(schedule) else None
    row = Engagement(
        incident_id=incident.id,
        policy=policy_key,
        schedule=schedule,
        started_at=started,
        level=following - 1 if following else None,
        next_escalation_at=next_at,
        updated_at=started,
    )
    add_row(session, table_of(Engagement), row.model_dump())
    if next_at is not None:
        timers.schedule_new(session, **_level_timer(incident, following, next_at))


async def _arm(
    session: AsyncSession, incident: Incident, engagement: Engagement, level: int
) -> None:
    """Level `level` is next: fire it now if due, else schedule its timer."""
    assert engagement.started_at is not None
    due = engagement.started_at + timedelta(minutes=engagement.schedule[level])
    engagement.next_escalation_at = due
    engagement.updated_at = utcnow()
    if due <= utcnow():
        await _fire(session, incident, engagement, level)
        return
    await timers.schedule(session, **_level_timer(incident, level, due))


async def fire_due(session: AsyncSession, incident: Incident, level: int) -> None:
    """A level's timer is due: fire it, unless escalation stopped or must stop now."""
    engagement = await _locked(session, incident.id)
    if engagement.stopped_at is not None or engagement.started_at is None:
        return
    if engagement.level is not None and engagement.level >= level:
        return  # fired already (a timer scheduled before a restart changed nothing)
    if incident.status not in ESCALATING:
        await _stop(session, incident, engagement, reason=str(incident.status))
        return
    if await _sre_on(session, incident):
        await _stop(session, incident, engagement, reason="sre_joined")
        return
    await _fire(session, incident, engagement, level)


async def _fire(
    session: AsyncSession, incident: Incident, engagement: Engagement, level: int
) -> None:
    assert engagement.started_at is not None
    engagement.level = level
    engagement.next_escalation_at = None
    engagement.updated_at = utcnow()
    final = _announce(session, incident, engagement.started_at, engagement.schedule, level)
    await session.flush()
    if not final:
        await _arm(session, incident, engagement, level + 1)


def _announce(
    session: AsyncSession,
    incident: Incident,
    started_at: datetime,
    schedule: list[float],
    level: int,
) -> bool:
    """Level `level` fires: on the timeline and as `incident.escalated`. True for the last."""
    waited = max((utcnow() - started_at).total_seconds(), 0.0)
    final = level == len(schedule) - 1
    timeline_service.record(
        session,
        incident,
        EntryKind.ESCALATED,
        f"Escalated to level {level}: no SRE on the incident after {_minutes(waited)}",
        author=ACTOR,
        data={"level": level, "waited_seconds": round(waited, 3), "final": final},
    )
    emit(
        session,
        IncidentEscalated(
            incident=IncidentOut.of(incident), level=level, waited_seconds=waited, final=final
        ),
    )
    return final


def _minutes(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.1f} min" if minutes < 10 else f"{round(minutes)} min"


async def _stop(
    session: AsyncSession, incident: Incident, engagement: Engagement, *, reason: str
) -> None:
    if engagement.stopped_at is None:
        engagement.stopped_at, engagement.stop_reason = utcnow(), reason
    engagement.next_escalation_at = None
    engagement.updated_at = utcnow()
    await timers.cancel(session, kind=ESCALATION, subject_id=incident.id)
    await session.flush()


async def sre_engaged(session: AsyncSession, incident: Incident) -> None:
    """Someone took the `sre` role: note when SRE first engaged; escalation stops for good."""
    engagement = await _locked(session, incident.id)
    if engagement.sre_engaged_at is None:
        engagement.sre_engaged_at = utcnow()
    await _stop(session, incident, engagement, reason="sre_joined")


async def status_changed(session: AsyncSession, incident: Incident) -> None:
    """The incident moved: past investigating (mitigated and on), escalation stops for good."""
    if incident.status in ESCALATING:
        return
    engagement = await get(session, incident.id)
    if engagement is None or engagement.started_at is None or engagement.stopped_at is not None:
        return
    await _stop(session, incident, await _locked(session, incident.id), reason=incident.status)
