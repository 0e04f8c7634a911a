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
from app.core.security import AuthenticatedRoute, ReadIncidents, WriteIncidents
from app.incidents.deps import IncidentId, LockedIncident, WritableIncident
from app.incidents.lookup import IncidentNotFound
from app.timeline import service
from app.timeline.models import EntryKind
from app.timeline.schemas import EntryCreate, EntryOut, EntryUpdate, entry_json
from app.timeline.service import EntryNotFound, GeneratedEntryReadOnly

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/timeline",
    tags=["timeline"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)


@router.get("", response_model=Page[EntryOut])
async def list_timeline(
    incident_id: IncidentId,
    _: ReadIncidents,
    session: SessionDep,
    page: PageDep,
    kind: Annotated[list[EntryKind] | None, Query(description="Repeat for several")] = None,
) -> Response:
    """The timeline in the order things happened (`occurred_at`, then insertion)."""
    rows = await service.list_entries(session, incident_id, page, kinds=kind)
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
    entry = service.add_entry(session, incident, body, author=author.handle)
    location = f"{API_PREFIX}/incidents/{incident.reference}/timeline/{entry.id}"
    return JSONResponse(
        entry.model_dump(mode="json"), status_code=201, headers={"Location": location}
    )


@router.patch(
    "/{entry_id}",
    response_model=EntryOut,
    responses=responses(EntryNotFound, GeneratedEntryReadOnly, UnsupportedMediaType),
)
async def update_entry(
    entry_id: uuid.UUID,
    body: EntryUpdate,
    session: SessionDep,
    incident: LockedIncident,
    _: WriteIncidents,
) -> EntryOut:
    """Correct an entry people wrote; generated entries are read-only (409)."""
    return EntryOut.of(await service.update_entry(session, incident, entry_id, body))


@router.delete(
    "/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(EntryNotFound, GeneratedEntryReadOnly),
)
async def delete_entry(
    entry_id: uuid.UUID, session: SessionDep, incident: LockedIncident, _: WriteIncidents
) -> Response:
    """Delete an entry people wrote; generated entries are read-only (409)."""
    await service.delete_entry(session, incident, entry_id)
    return Response(status_code=204)
