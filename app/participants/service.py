"""Who is on an incident, in which role.

What a role brings with it in other domains (the incident's commander, checklist ticks,
the engagement metric) is `app.flows.participants`.
"""

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.actors import Actor, Via
from app.core.clock import utcnow
from app.core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from app.core.events import emit
from app.core.handles import fold
from app.core.pagination import PageParams, Rows, paginate
from app.incidents.lookup import child_of
from app.incidents.models import Incident
from app.incidents.schemas import IncidentRef
from app.participants import events
from app.participants.models import Participant, Role
from app.participants.schemas import ParticipantCreate, ParticipantOut
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


def adder_of(joining: ParticipantCreate, actor: Actor) -> Actor:
    """Who puts `joining` on the incident: the actor, who joins when `handle` is left out.

    Naming someone else adds them. An `act-as` key that names a person (and no
    `Muster-Acting-For`) is that person joining; a service acting as itself must name
    who joins.
    """
    adder = actor.claim(joining.handle, field="body.handle") if actor.may_act_for else actor
    if joining.handle is None and not adder.is_person:
        raise InvalidInput(
            f"{adder.handle} is a service: say who joins",
            errors=[FieldProblem(field="body.handle", message="required", type="missing")],
        )
    return adder


async def join(
    session: AsyncSession,
    incident: Incident,
    joining: ParticipantCreate,
    *,
    actor: str,
    via: Via | None = None,
) -> Participant:
    """`joining.handle` (default: `actor`) joins, put there by `actor` (credential `via`)."""
    handle = joining.handle or actor
    existing = await active_participant(session, incident, handle)
    if existing is not None:
        raise AlreadyParticipating(
            f"{handle} is already on {incident.reference} as {existing.role}",
            extra={"participant_id": str(existing.id)},
        )
    participant = Participant(
        incident_id=incident.id,
        **joining.model_dump(exclude={"handle"}),
        handle=handle,
        added_by=actor,
        via=via.stored() if via else None,
    )
    session.add(participant)
    try:
        await session.flush()
    except IntegrityError:
        # A concurrent join of the same handle won the partial unique index.
        raise AlreadyParticipating(f"{handle} is already on {incident.reference}") from None
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
        events.ParticipantJoined(
            incident=IncidentRef.of(incident), participant=ParticipantOut.of(participant)
        ),
    )
    return participant


async def active_participants(session: AsyncSession, incident: Incident) -> list[Participant]:
    """Who is on `incident` now, in the order they joined."""
    found = await session.scalars(
        select(Participant)
        .where(col(Participant.incident_id) == incident.id, col(Participant.left_at).is_(None))
        .order_by(col(Participant.joined_at), col(Participant.id))
    )
    return list(found.all())


async def other_commanders(
    session: AsyncSession, incident: Incident, participant: Participant
) -> list[Participant]:
    """The incident's active commanders other than `participant`."""
    found = await session.scalars(
        select(Participant).where(
            col(Participant.incident_id) == incident.id,
            col(Participant.role) == Role.COMMANDER,
            col(Participant.left_at).is_(None),
            col(Participant.id) != participant.id,
        )
    )
    return list(found.all())


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
    """A participant by id, or by handle (any spelling of it): the handle's current stint,
    else its latest."""
    try:
        where = col(Participant.id) == uuid.UUID(ident)
    except ValueError:
        where = col(Participant.handle) == fold(ident)
    return await child_of(
        session,
        Participant,
        incident,
        where,
        order_by=(col(Participant.left_at).is_not(None), col(Participant.joined_at).desc()),
        missing=ParticipantNotFound,
        what=f"participant {ident}",
    )


async def change_role(
    session: AsyncSession, incident: Incident, participant: Participant, role: Role, *, actor: str
) -> bool:
    """Give `participant` another role; False when it already was theirs."""
    if participant.left_at is not None:
        raise ParticipantLeft(f"{participant.handle} has left {incident.reference}; rejoin first")
    if participant.role == role:
        return False
    await set_role(session, incident, participant, role, actor=actor)
    return True


async def set_role(
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
) -> bool:
    """Mark `participant` gone; False when they had left already."""
    if participant.left_at is not None:
        return False
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
        events.ParticipantLeft(
            incident=IncidentRef.of(incident), participant=ParticipantOut.of(participant)
        ),
    )
    return True
