"""Stakeholder updates: each one published on the incident's timeline and as an event,
recording the status or severity it moved the incident to."""

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.actors import Via
from app.core.events import emit
from app.core.pagination import PageParams, Rows, paginate
from app.incidents.models import Incident
from app.incidents.schemas import IncidentRef
from app.incidents.state import Status
from app.status_updates.events import StatusUpdatePublished
from app.status_updates.models import StatusUpdate
from app.status_updates.schemas import UpdateCreate, UpdateOut
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind

SUMMARY_CHARS = 200


async def publish(
    session: AsyncSession, incident: Incident, body: UpdateCreate, *, actor: str, via: Via | None
) -> StatusUpdate:
    """Publish an update. A status or severity sent with it has been applied already
    (`flows.incidents.publish_update`): the update records it."""
    update = StatusUpdate(
        incident_id=incident.id,
        message=body.message,
        audience=body.audience,
        status=None if body.status is None else Status(body.status),
        severity=body.severity,
        author=actor,
        via=via.stored() if via else None,
    )
    session.add(update)
    await session.flush()
    out = UpdateOut.of(update)
    first_line = body.message.splitlines()[0]
    timeline_service.record(
        session,
        incident,
        EntryKind.STATUS_UPDATE,
        f"Update for {body.audience}: {first_line[:SUMMARY_CHARS]}",
        author=actor,
        via=via,
        body=body.message,
        occurred_at=update.published_at,
        data={"update_id": str(update.id), "audience": body.audience}
        | {"status": update.status, "severity": update.severity},
    )
    emit(session, StatusUpdatePublished(incident=IncidentRef.of(incident), update=out))
    return update


async def list_updates(
    session: AsyncSession, incident: Incident, page: PageParams
) -> Rows[StatusUpdate]:
    statement = select(StatusUpdate).where(col(StatusUpdate.incident_id) == incident.id)
    return await paginate(
        session,
        statement,
        page,
        col(StatusUpdate.published_at),
        col(StatusUpdate.id),
        descending=False,
    )


async def last_published_at(session: AsyncSession, incident: Incident) -> datetime | None:
    """When `incident`'s latest update was published; None before the first."""
    return await session.scalar(
        select(func.max(col(StatusUpdate.published_at))).where(
            col(StatusUpdate.incident_id) == incident.id
        )
    )


async def updates_of(session: AsyncSession, incident: Incident) -> list[StatusUpdate]:
    """Every update of `incident`, oldest first (for its postmortem)."""
    found = await session.scalars(
        select(StatusUpdate)
        .where(col(StatusUpdate.incident_id) == incident.id)
        .order_by(col(StatusUpdate.published_at), col(StatusUpdate.id))
    )
    return list(found.all())
