"""The incident timeline: read it in order, and record notes, actions, decisions, observations."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from app.core.actors import ActorMismatch, IncidentActor
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized, UnsupportedMediaType, responses
from app.core.pagination import Page, PageDep
from app.core.security import (
    Admin,
    AuthenticatedRoute,
    ReadIncidents,
    Scope,
    WriteIncidents,
    check_scope,
)
from app.incidents.deps import CurrentIncident, IncidentId, LockedIncident, WritableIncident
from app.incidents.lookup import IncidentNotFound
from app.timeline import service
from app.timeline.models import EntryKind
from app.timeline.schemas import EntryCreate, EntryOut, EntryUpdate, RevisionOut, entry_json
from app.timeline.service import EntryNotFound, GeneratedEntryReadOnly, NotTheAuthor

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/timeline",
    tags=["timeline"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)


@router.get("", response_model=Page[EntryOut])
async def list_timeline(
    incident_id: IncidentId,
    principal: ReadIncidents,
    session: SessionDep,
    page: PageDep,
    kind: Annotated[list[EntryKind] | None, Query(description="Repeat for several")] = None,
    include_deleted: Annotated[
        bool, Query(description="Also list deleted entries, as tombstones (scope `admin`)")
    ] = False,
) -> Response:
    """The timeline in the order things happened (`occurred_at`, then insertion)."""
    if include_deleted:
        check_scope(principal, Scope.ADMIN)
    rows = await service.list_entries(
        session, incident_id, page, kinds=kind, include_deleted=include_deleted
    )
    return rows.to_response(entry_json)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryOut,
    responses=responses(ActorMismatch, UnsupportedMediaType),
)
async def add_entry(
    body: EntryCreate,
    session: SessionDep,
    incident: WritableIncident,
    actor: IncidentActor,
) -> JSONResponse:
    """Record a note, action, decision or observation; it may be back-dated.

    `author` is the actor: leave it out, or name only the person the request acts as.
    """
    author = actor.claim(body.author, field="body.author")
    entry = service.add_entry(session, incident, body, author=author)
    location = f"{API_PREFIX}/incidents/{incident.reference}/timeline/{entry.id}"
    return JSONResponse(
        entry.model_dump(mode="json"), status_code=201, headers={"Location": location}
    )


@router.patch(
    "/{entry_id}",
    response_model=EntryOut,
    responses=responses(EntryNotFound, NotTheAuthor, GeneratedEntryReadOnly, UnsupportedMediaType),
)
async def update_entry(
    entry_id: uuid.UUID,
    body: EntryUpdate,
    session: SessionDep,
    incident: LockedIncident,
    principal: WriteIncidents,
    actor: IncidentActor,
) -> EntryOut:
    """Correct an entry people wrote: its author or an admin; every version is kept.

    Generated entries are read-only (409); `timeline.event_updated` announces the edit.
    """
    entry = await service.update_entry(
        session, incident, entry_id, body, actor=actor, admin=principal.can(Scope.ADMIN)
    )
    return EntryOut.of(entry)


@router.delete(
    "/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(EntryNotFound, NotTheAuthor, GeneratedEntryReadOnly),
)
async def delete_entry(
    entry_id: uuid.UUID,
    session: SessionDep,
    incident: LockedIncident,
    principal: WriteIncidents,
    actor: IncidentActor,
) -> Response:
    """Delete an entry people wrote: its author or an admin.

    The entry becomes a tombstone (listed with `include_deleted=true`, by an admin)
    and `timeline.event_deleted` announces it. Generated entries are read-only (409).
    """
    admin = principal.can(Scope.ADMIN)
    await service.delete_entry(session, incident, entry_id, actor=actor, admin=admin)
    return Response(status_code=204)


@router.get(
    "/{entry_id}/revisions",
    response_model=list[RevisionOut],
    responses=responses(EntryNotFound),
)
async def list_entry_revisions(
    entry_id: uuid.UUID, session: SessionDep, incident: CurrentIncident, _: Admin
) -> list[RevisionOut]:
    """An entry's versions, oldest first: as first written, then after each edit (admin)."""
    return await service.revisions_of(session, incident, entry_id)
