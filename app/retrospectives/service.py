"""The retrospective people write: sections, `If-Match` editing, review, publication.

States: `draft → in_review → published`. A published revision is frozen in
`retrospective_revisions`; a change after publishing starts the next revision as a
draft. Writes run under the incident's row lock (`LockedIncident`), so two editors
are serialised by the database and the second one's stale `If-Match` is a 412.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.actors import Actor, Via
from app.core.clock import utcnow
from app.core.errors import Conflict, NotFound
from app.core.etags import check_if_match
from app.core.events import emit
from app.core.pagination import PageParams, Rows, paginate
from app.incidents.models import Incident
from app.incidents.schemas import IncidentRef
from app.retrospectives.events import PostmortemPublished
from app.retrospectives.models import (
    SECTIONS,
    Retrospective,
    RetrospectiveRevision,
    RetrospectiveState,
)
from app.retrospectives.schemas import RetrospectiveOut, RetrospectiveWrite, Sections
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind

# Where each state may go by `POST …/postmortem/review` and `…/publish`.
_MOVES = {
    RetrospectiveState.IN_REVIEW: RetrospectiveState.DRAFT,
    RetrospectiveState.PUBLISHED: RetrospectiveState.IN_REVIEW,
}


class RetrospectiveNotFound(NotFound):
    code, title = "retrospective-not-found", "No retrospective written yet"


class InvalidRetrospectiveMove(Conflict):
    code, title = "invalid-retrospective-transition", "Invalid retrospective transition"


def etag(retrospective: Retrospective) -> str:
    return f'"{retrospective.incident_id.hex[:12]}.r{retrospective.version}"'


def sections_of(retrospective: Retrospective) -> Sections:
    return Sections(**{name: getattr(retrospective, name) for name in SECTIONS})


def describe(incident: Incident, retrospective: Retrospective) -> RetrospectiveOut:
    published = retrospective.revision - (retrospective.state != RetrospectiveState.PUBLISHED)
    return RetrospectiveOut(
        **sections_of(retrospective).model_dump(),
        incident_id=incident.id,
        incident_reference=incident.reference,
        state=retrospective.state,
        revision=retrospective.revision,
        etag=etag(retrospective),
        published_revisions=published,
        created_by=retrospective.created_by,
        created_at=retrospective.created_at,
        updated_by=retrospective.updated_by,
        updated_via=_via(retrospective.updated_via),
        updated_at=retrospective.updated_at,
    )


def _via(stored: dict[str, Any] | None) -> Via | None:
    return Via.model_validate(stored) if stored else None


async def find(session: AsyncSession, incident: Incident) -> Retrospective | None:
    return await session.get(Retrospective, incident.id, populate_existing=True)


def _what(incident: Incident) -> str:
    return f"The retrospective of {incident.reference}"


def _record(
    session: AsyncSession, incident: Incident, summary: str, actor: Actor, **data: Any
) -> None:
    timeline_service.record(
        session, incident, EntryKind.POSTMORTEM, summary, author=actor.handle, data=data
    )


async def write(
    session: AsyncSession,
    incident: Incident,
    current: Retrospective | None,
    body: RetrospectiveWrite,
    *,
    draft: Sections,
    if_match: str | None,
    actor: Actor,
) -> Retrospective:
    """Write the sections sent. The first write starts from `draft` (what the record
    says); later ones need `If-Match`. Writing a published retrospective starts its
    next revision."""
    check_if_match(
        etag(current) if current else None, if_match, what=_what(incident), required=True
    )
    now = utcnow()
    sent = {name: getattr(body, name) or None for name in body.model_fields_set}
    if current is None:
        retrospective = Retrospective(
            incident_id=incident.id,
            **(draft.model_dump() | sent),
            created_by=actor.handle,
            created_at=now,
            updated_by=actor.handle,
            updated_via=actor.via.stored(),
            updated_at=now,
        )
        session.add(retrospective)
        await session.flush()
        _record(session, incident, "Retrospective started", actor, revision=1)
        return retrospective
    changed = {name: text for name, text in sent.items() if getattr(current, name) != text}
    if not changed:
        return current
    if current.state == RetrospectiveState.PUBLISHED:
        current.revision += 1
        current.state = RetrospectiveState.DRAFT
        _record(
            session,
            incident,
            f"Retrospective revision {current.revision} started",
            actor,
            revision=current.revision,
        )
    for name, text in changed.items():
        setattr(current, name, text)
    _touch(current, actor, now)
    await session.flush()
    return current


def _touch(retrospective: Retrospective, actor: Actor, now: datetime) -> None:
    retrospective.version += 1
    retrospective.updated_by, retrospective.updated_at = actor.handle, now
    retrospective.updated_via = actor.via.stored()


async def move(
    session: AsyncSession,
    incident: Incident,
    target: RetrospectiveState,
    *,
    if_match: str | None,
    actor: Actor,
) -> Retrospective:
    """`in_review` (from `draft`) or `published` (from `in_review`)."""
    current = await find(session, incident)
    if current is None:
        raise RetrospectiveNotFound(
            f"{incident.reference} has no retrospective yet: PUT its sections first"
        )
    check_if_match(etag(current), if_match, what=_what(incident))
    if current.state != _MOVES[target]:
        raise InvalidRetrospectiveMove(
            f"The retrospective of {incident.reference} is {current.state}: it cannot move "
            f"to {target} (only from {_MOVES[target]})",
            extra={"state": current.state},
        )
    now = utcnow()
    current.state = target
    _touch(current, actor, now)
    await session.flush()
    if target == RetrospectiveState.IN_REVIEW:
        _record(
            session, incident, "Retrospective sent for review", actor, revision=current.revision
        )
        return current
    sections = sections_of(current)
    session.add(
        RetrospectiveRevision(
            incident_id=incident.id,
            revision=current.revision,
            sections=sections.model_dump(),
            published_by=actor.handle,
            published_via=actor.via.stored(),
            published_at=now,
        )
    )
    await session.flush()
    _record(
        session,
        incident,
        f"Retrospective revision {current.revision} published",
        actor,
        revision=current.revision,
    )
    emit(
        session,
        PostmortemPublished(
            incident=IncidentRef.of(incident),
            revision=current.revision,
            sections=sections,
            published_by=actor.handle,
            published_at=now,
        ),
    )
    return current


async def revisions(
    session: AsyncSession, incident: Incident, page: PageParams
) -> Rows[RetrospectiveRevision]:
    statement = select(RetrospectiveRevision).where(
        col(RetrospectiveRevision.incident_id) == incident.id
    )
    return await paginate(
        session, statement, page, col(RetrospectiveRevision.revision), descending=False
    )
