"""Relations between incidents: `related`, or one `causes` / is `caused_by` the other.

A relation is stored as two rows, one read from each incident, inserted in one
statement in a fixed order and deleted together: one relation per pair, settled by
the unique `(incident_id, other_id)` even when both sides are related at once.
Adding and removing one is recorded on both timelines.
"""

import uuid

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.actors import Via
from app.core.clock import utcnow
from app.core.db import table_of
from app.core.errors import Conflict, NotFound
from app.incidents import lookup
from app.incidents import service as incident_service
from app.incidents.models import Incident, IncidentRelation, RelationKind
from app.incidents.schemas import IncidentRef, RelationCreate, RelationOut
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind

_RELATIONS = table_of(IncidentRelation)


class AlreadyRelated(Conflict):
    code, title = "already-related", "The incidents are already related"


class RelationNotFound(NotFound):
    pass


_READS = {
    RelationKind.RELATED: "is related to",
    RelationKind.CAUSED_BY: "is caused by",
    RelationKind.CAUSES: "causes",
}


def _record(
    session: AsyncSession,
    incident: Incident,
    other: Incident,
    kind: RelationKind,
    *,
    added: bool,
    actor: str,
    via: Via | None,
) -> None:
    """One timeline entry on each side, each read from its own incident."""
    for here, there, how in ((incident, other, kind), (other, incident, kind.mirrored)):
        action = "added" if added else "removed"
        timeline_service.record(
            session,
            here,
            EntryKind.RELATION,
            f"Relation {action}: {here.reference} {_READS[how]} {there.reference}",
            author=actor,
            via=via,
            data={
                "action": action,
                "kind": how,
                "incident": str(there.id),
                "reference": there.reference,
            },
        )


async def relate(
    session: AsyncSession, incident: Incident, body: RelationCreate, *, actor: str, via: Via | None
) -> RelationOut:
    other_id = await incident_service.named_incident_id(
        session, body.incident, field="body.incident"
    )
    if other_id == incident.id:
        raise incident_service.SameIncident(f"{incident.reference} is the incident itself")
    other = await lookup.get_incident(session, str(other_id))
    existing = await session.scalar(
        select(IncidentRelation).where(
            col(IncidentRelation.incident_id) == incident.id,
            col(IncidentRelation.other_id) == other.id,
        )
    )
    if existing is not None:
        raise AlreadyRelated(
            f"{incident.reference} already {existing.kind} {other.reference}; delete it first",
            extra={"kind": existing.kind},
        )
    now = utcnow()
    sides = sorted(
        [(incident.id, other.id, body.kind), (other.id, incident.id, body.kind.mirrored)]
    )
    rows = [
        {
            "id": uuid.uuid4(),
            "incident_id": a,
            "other_id": b,
            "kind": kind,
            "created_by": actor,
            "created_via": via.stored() if via else None,
            "created_at": now,
        }
        for a, b, kind in sides
    ]
    try:
        async with session.begin_nested():
            await session.execute(insert(_RELATIONS), rows)
    except IntegrityError:
        raise AlreadyRelated(
            f"{incident.reference} is already related to {other.reference}"
        ) from None
    _record(session, incident, other, body.kind, added=True, actor=actor, via=via)
    return RelationOut(
        incident=IncidentRef.of(other), kind=body.kind, created_by=actor, created_at=now
    )


async def list_relations(session: AsyncSession, incident: Incident) -> list[RelationOut]:
    found = await session.execute(
        select(IncidentRelation, Incident)
        .join(Incident, col(Incident.id) == col(IncidentRelation.other_id))
        .where(col(IncidentRelation.incident_id) == incident.id)
        .order_by(col(IncidentRelation.created_at), col(Incident.number))
    )
    return [
        RelationOut(
            incident=IncidentRef.of(other),
            kind=RelationKind(relation.kind),
            created_by=relation.created_by,
            created_at=relation.created_at,
        )
        for relation, other in found.all()
    ]


async def unrelate(
    session: AsyncSession, incident: Incident, other_ident: str, *, actor: str, via: Via | None
) -> None:
    """Remove the relation between `incident` and the one `other_ident` names (404 if none)."""
    other = await lookup.get_incident(session, other_ident)
    here, there = col(IncidentRelation.incident_id), col(IncidentRelation.other_id)
    removed = await session.execute(
        delete(IncidentRelation)
        .where(
            ((here == incident.id) & (there == other.id))
            | ((here == other.id) & (there == incident.id))
        )
        .returning(here, col(IncidentRelation.kind))
    )
    kinds = {side: RelationKind(kind) for side, kind in removed.all()}
    if incident.id not in kinds:
        raise RelationNotFound(f"{incident.reference} has no relation to {other.reference}")
    _record(session, incident, other, kinds[incident.id], added=False, actor=actor, via=via)
