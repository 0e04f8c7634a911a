"""Who is on an incident, in which role; the commander is the incident's commander."""

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.checklists import service as checklist_service
from app.core.clock import utcnow
from app.core.errors import Conflict, NotFound
from app.core.events import EventType, emit
from app.core.pagination import PageParams, Rows, paginate
from app.incidents import service as incident_service
from app.incidents.models import Incident
from app.participants.models import Participant, Role
from app.participants.schemas import ParticipantCreate, ParticipantOut
from app.reports import service as report_service
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind


class ParticipantNotFound(NotFound):
    pass


class AlreadyParticipating(Conflict):
    code, title = "already-participating", "Already participating"


class ParticipantLeft(Conflict):
    code, title = "participant-left", "Participant has left"


def _entry_data(
    participant: Participant, *, role: Role, previous: Role | None = None
) -> dict[str, str]:
    data = {"participant_id": str(participant.id), "handle": participant.handle, "role": role}
    return data | ({"from": previous} if previous else {})


def _event_data(incident: Incident, participant: Participant) -> dict[str, object]:
    return {
        "incident": timeline_service.incident_ref(incident),
        "participant": ParticipantOut.of(participant).model_dump(mode="json"),
    }


async def active_participant(
    session: AsyncSession, incident: Incident, handle: str
) -> Participant | None:
    return await session.scalar(
        select(Participant).where(
            col(Participant.incident_id) == incident.id,
            col(Participant.handle) == handle,
            col(Participant.left_at).is_(None),
        )
    )


async def join(
    session: AsyncSession, incident: Incident, joining: ParticipantCreate, *, actor: str
) -> Participant:
    existing = await active_participant(session, incident, joining.handle)
    if existing is not None:
        raise AlreadyParticipating(
            f"{joining.handle} is already on {incident.reference} as {existing.role}",
            extra={"participant_id": str(existing.id)},
        )
    participant = Participant(incident_id=incident.id, **joining.model_dump())
    session.add(participant)
    try:
        await session.flush()
    except IntegrityError:
        # A concurrent join of the same handle won the partial unique index.
        raise AlreadyParticipating(f"{joining.handle} is already on {incident.reference}") from None
    timeline_service.record(
        session,
        incident,
        EntryKind.PARTICIPANT_JOINED,
        f"{participant.handle} joined as {participant.role}",
        author=actor,
        data=_entry_data(participant, role=participant.role),
    )
    emit(
        session,
        EventType.PARTICIPANT_JOINED,
        _event_data(incident, participant),
        incident_id=incident.id,
    )
    await _after_role_given(session, incident, participant, actor=actor)
    return participant


async def _after_role_given(
    session: AsyncSession, incident: Incident, participant: Participant, *, actor: str
) -> None:
    """What a role brings with it: a commander replaces the previous one; SRE ticks the list."""
    if participant.role == Role.SRE:
        await checklist_service.tick(
            session, incident, "sre_joined", f"{participant.handle} joined"
        )
        await report_service.note_sre_role(session, incident)
    if participant.role != Role.COMMANDER:
        return
    previous = await session.scalars(
        select(Participant).where(
            col(Participant.incident_id) == incident.id,
            col(Participant.role) == Role.COMMANDER,
            col(Participant.left_at).is_(None),
            col(Participant.id) != participant.id,
        )
    )
    for former in previous.all():
        await _set_role(session, incident, former, Role.OBSERVER, actor=actor)
    await incident_service.set_commander(session, incident, participant.handle)
    await checklist_service.tick(
        session, incident, "commander_assigned", f"{participant.handle} is commander"
    )


async def list_participants(
    session: AsyncSession, incident: Incident, page: PageParams, *, active: bool | None
) -> Rows[Participant]:
    statement = select(Participant).where(col(Participant.incident_id) == incident.id)
    if active is not None:
        left = col(Participant.left_at)
        statement = statement.where(left.is_(None) if active else left.is_not(None))
    return await paginate(
        session, statement, page, col(Participant.joined_at), col(Participant.id), descending=False
    )


async def get_participant(session: AsyncSession, incident: Incident, ident: str) -> Participant:
    """A participant by id, or by handle: the handle's current stint, else its latest."""
    try:
        where = col(Participant.id) == uuid.UUID(ident)
    except ValueError:
        where = col(Participant.handle) == ident
    participant = await session.scalar(
        select(Participant)
        .where(where, col(Participant.incident_id) == incident.id)
        .order_by(col(Participant.left_at).is_not(None), col(Participant.joined_at).desc())
        .limit(1)
    )
    if participant is None:
        raise ParticipantNotFound(f"No participant {ident} on {incident.reference}")
    return participant


async def change_role(
    session: AsyncSession, incident: Incident, participant: Participant, role: Role, *, actor: str
) -> Participant:
    if participant.left_at is not None:
        raise ParticipantLeft(f"{participant.handle} has left {incident.reference}; rejoin first")
    if participant.role == role:
        return participant
    await _set_role(session, incident, participant, role, actor=actor)
    if role != Role.COMMANDER and incident.commander == participant.handle:
        await incident_service.set_commander(session, incident, None)
    await _after_role_given(session, incident, participant, actor=actor)
    return participant


async def _set_role(
    session: AsyncSession, incident: Incident, participant: Participant, role: Role, *, actor: str
) -> None:
    previous, participant.role = participant.role, role
    await session.flush()
    timeline_service.record(
        session,
        incident,
        EntryKind.ROLE_CHANGED,
        f"{participant.handle}: {previous} → {role}",
        author=actor,
        data=_entry_data(participant, role=role, previous=previous),
    )


async def leave(
    session: AsyncSession, incident: Incident, participant: Participant, *, actor: str
) -> Participant:
    if participant.left_at is not None:
        return participant
    participant.left_at = utcnow()
    await session.flush()
    timeline_service.record(
        session,
        incident,
        EntryKind.PARTICIPANT_LEFT,
        f"{participant.handle} left ({participant.role})",
        author=actor,
        data=_entry_data(participant, role=participant.role),
    )
    emit(
        session,
        EventType.PARTICIPANT_LEFT,
        _event_data(incident, participant),
        incident_id=incident.id,
    )
    if incident.commander == participant.handle:
        await incident_service.set_commander(session, incident, None)
    return participant


async def assign_commander(
    session: AsyncSession, incident: Incident, handle: str, *, actor: str
) -> Participant:
    """Make `handle` the commander, joining them first when they are not on the incident."""
    participant = await active_participant(session, incident, handle)
    if participant is None:
        joining = ParticipantCreate(handle=handle, role=Role.COMMANDER)
        return await join(session, incident, joining, actor=actor)
    return await change_role(session, incident, participant, Role.COMMANDER, actor=actor)
