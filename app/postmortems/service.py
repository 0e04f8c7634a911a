"""The postmortem draft: everything the record says about one incident, in one document."""

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.action_items import service as action_service
from app.action_items.models import RolloutStatus
from app.action_items.schemas import ActionItemOut
from app.checklists.models import ChecklistItem
from app.contributing_factors import service as factor_service
from app.core.clock import utcnow
from app.deploys.models import Deploy, DeployStatus
from app.incidents.models import Incident
from app.participants.models import Participant, Role
from app.postmortems.schemas import (
    ChecklistLine,
    DeployLine,
    Duration,
    Durations,
    ImpactWindow,
    IncidentBrief,
    IncidentLink,
    PostmortemEntry,
    PostmortemOut,
    PostmortemParticipant,
    RecurrenceActionItem,
    RecurrenceOut,
    RollbackReviewLine,
)
from app.reports import measures
from app.retrospectives import service as retrospective_service
from app.rollbacks import service as rollback_service
from app.status_updates import service as update_service
from app.status_updates.schemas import UpdateOut
from app.timeline.models import EntryKind, TimelineEntry

SUSPECT_WINDOW = timedelta(hours=24)
SUSPECT_LIMIT = 50
_FAILED = {DeployStatus.FAILED, DeployStatus.ROLLED_BACK}


def _duration(start: datetime, end: datetime | None) -> Duration | None:
    total = measures.seconds(start, end)
    return None if total is None else Duration(seconds=total, text=measures.humanize(total))


def deploy_line(deploy: Deploy, impact: datetime) -> DeployLine:
    finished = deploy.finished_at
    moment = finished if finished is not None and finished <= impact else deploy.started_at
    return DeployLine(
        id=deploy.id,
        service=deploy.service,
        environment=deploy.environment,
        version=deploy.version,
        kind=deploy.kind,
        status=deploy.status,
        started_at=deploy.started_at,
        finished_at=deploy.finished_at,
        minutes_before_impact=round((impact - moment).total_seconds() / 60, 1),
        failed=deploy.status in _FAILED,
    )


async def suspect_deploys(session: AsyncSession, incident: Incident) -> list[DeployLine]:
    """Deploys of the incident's services that started or finished in the 24 h before impact.

    Self-contained on purpose; closest to the impact first (failed ones flagged).
    """
    if not incident.services:
        return []
    impact = incident.started_at
    since = impact - SUSPECT_WINDOW
    rows = await session.scalars(
        select(Deploy)
        .where(
            col(Deploy.service).in_(incident.services),
            or_(
                and_(col(Deploy.started_at) >= since, col(Deploy.started_at) <= impact),
                and_(col(Deploy.finished_at) >= since, col(Deploy.finished_at) <= impact),
            ),
        )
        .order_by(col(Deploy.started_at).desc())
        .limit(SUSPECT_LIMIT)
    )
    lines = [deploy_line(deploy, impact) for deploy in rows]
    return sorted(lines, key=lambda line: (line.minutes_before_impact, str(line.id)))


async def rollback_section(session: AsyncSession, incident: Incident) -> list[RollbackReviewLine]:
    """The incident's rollback reviews, oldest first, for the postmortem."""
    return [
        RollbackReviewLine(
            service=review.service,
            status=review.status,
            from_version=review.from_version,
            to_version=review.to_version,
            requested_by=review.requested_by,
            reviewer=review.reviewer,
            updated_at=review.updated_at,
        )
        for review in await rollback_service.reviews_of(session, incident)
    ]


def _roles(entries: list[TimelineEntry]) -> dict[str, list[Role]]:
    """Per participant id, every role held, from the join and role-change entries."""
    held: dict[str, list[Role]] = {}
    for entry in entries:
        if entry.kind in measures.ROLE_KINDS and "participant_id" in entry.data:
            roles = held.setdefault(str(entry.data["participant_id"]), [])
            role = Role(entry.data["role"])
            if not roles or roles[-1] != role:
                roles.append(role)
    return held


def _entry(entry: TimelineEntry) -> PostmortemEntry:
    """A timeline line; a deleted entry says only who deleted it and when."""
    if entry.deleted_at is not None:
        at = entry.deleted_at.strftime("%Y-%m-%d %H:%M UTC")
        return PostmortemEntry(
            occurred_at=entry.occurred_at,
            kind=EntryKind(entry.kind),
            author=entry.deleted_by,
            summary=f"An entry was deleted by {entry.deleted_by} at {at}",
            body=None,
            deleted=True,
        )
    return PostmortemEntry(
        occurred_at=entry.occurred_at,
        kind=EntryKind(entry.kind),
        author=entry.author,
        summary=entry.summary,
        body=entry.body,
    )


async def build(session: AsyncSession, incident: Incident) -> PostmortemOut:
    entries = list(
        await session.scalars(
            select(TimelineEntry)
            .where(col(TimelineEntry.incident_id) == incident.id)
            .order_by(col(TimelineEntry.occurred_at), col(TimelineEntry.seq))
        )
    )
    stints = await session.scalars(
        select(Participant)
        .where(col(Participant.incident_id) == incident.id)
        .order_by(col(Participant.joined_at), col(Participant.id))
    )
    checklist = await session.scalars(
        select(ChecklistItem)
        .where(col(ChecklistItem.incident_id) == incident.id)
        .order_by(col(ChecklistItem.position))
    )
    cause = (
        await session.get(Deploy, incident.caused_by_deploy_id)
        if incident.caused_by_deploy_id
        else None
    )
    earlier = (
        await session.get(Incident, incident.recurrence_of) if incident.recurrence_of else None
    )
    start = incident.started_at
    engaged = min(
        (e.occurred_at for e in entries if measures.is_sre_entry(e.kind, e.data)), default=None
    )
    ended_by: Literal["mitigated", "resolved"] | None = None
    ended_at = incident.mitigated_at or incident.resolved_at
    if ended_at is not None:
        ended_by = "mitigated" if incident.mitigated_at else "resolved"
    roles = _roles(entries)
    retrospective = await retrospective_service.find(session, incident)
    return PostmortemOut(
        incident_id=incident.id,
        reference=incident.reference,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        services=incident.services,
        summary=incident.summary,
        commander=incident.commander,
        recurrence_of=IncidentLink(id=earlier.id, reference=earlier.reference) if earlier else None,
        generated_at=utcnow(),
        impact=ImpactWindow(
            started_at=start,
            ended_at=ended_at,
            ended_by=ended_by,
            duration=_duration(start, ended_at),
        ),
        durations=Durations(
            time_to_acknowledge=_duration(start, measures.acknowledged_at(incident)),
            time_to_sre_engagement=_duration(start, engaged),
            time_to_mitigate=_duration(start, measures.mitigated_at(incident)),
            time_to_resolve=_duration(start, measures.resolved_at(incident)),
        ),
        participants=[
            PostmortemParticipant(
                handle=p.handle,
                name=p.name,
                team=p.team,
                role=p.role,
                roles=roles.get(str(p.id)) or [p.role],
                joined_at=p.joined_at,
                left_at=p.left_at,
            )
            for p in stints
        ],
        timeline=[_entry(e) for e in entries],
        updates=[UpdateOut.of(u) for u in await update_service.updates_of(session, incident)],
        suspect_deploys=await suspect_deploys(session, incident),
        cause=deploy_line(cause, start) if cause else None,
        rollback_reviews=await rollback_section(session, incident),
        checklist=[
            ChecklistLine(
                key=c.key,
                label=c.label,
                done=c.done,
                done_by=c.done_by,
                done_at=c.done_at,
                note=c.note,
            )
            for c in checklist
        ],
        action_items=await action_service.all_for_incident(session, incident),
        contributing_factors=await factor_service.all_for_incident(session, incident),
        retrospective=(
            retrospective_service.describe(incident, retrospective) if retrospective else None
        ),
    )


# The recurrence view: what an incident repeats, and whether the measures taken after
# the earlier one reached the services hit again.


def brief(incident: Incident) -> IncidentBrief:
    return IncidentBrief(
        id=incident.id,
        reference=incident.reference,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        services=incident.services,
        started_at=incident.started_at,
        mitigated_at=incident.mitigated_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
    )


def reached(item: ActionItemOut, service: str) -> bool | None:
    """Did the measure reach `service`: done → true, listed otherwise → false, unlisted → null."""
    for rollout in item.rollout:
        if rollout.service == service:
            return rollout.status == RolloutStatus.DONE
    return None


async def recurrence_view(session: AsyncSession, incident: Incident) -> RecurrenceOut:
    earlier = (
        await session.get(Incident, incident.recurrence_of) if incident.recurrence_of else None
    )
    items = await action_service.all_for_incident(session, earlier) if earlier else []
    return RecurrenceOut(
        incident=brief(incident),
        recurrence_of=brief(earlier) if earlier else None,
        action_items=[
            RecurrenceActionItem(
                **item.model_dump(), reached={s: reached(item, s) for s in incident.services}
            )
            for item in items
        ],
    )
