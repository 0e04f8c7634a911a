"""The initial-response checklist of an incident."""

from typing import Annotated

from fastapi import APIRouter, Path

from app.checklists import service
from app.checklists.schemas import ChecklistItemOut, ChecklistItemUpdate
from app.checklists.service import ChecklistItemNotFound
from app.core.actors import ActorMismatch, IncidentActor
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized, UnsupportedMediaType, responses
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.flows import checklists as checklist_flows
from app.incidents.deps import CurrentIncident, LockedIncident
from app.incidents.lookup import IncidentNotFound

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/checklist",
    tags=["checklist"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)


@router.get("", response_model=Page[ChecklistItemOut])
async def get_checklist(
    session: SessionDep, incident: CurrentIncident, page: PageDep, _: ReadIncidents
) -> Page[ChecklistItemOut]:
    """The checklist items in template order, with who ticked what and when."""
    rows = await service.list_items(session, incident, page)
    return rows.to_page(ChecklistItemOut.model_validate)


@router.patch(
    "/{item_key}",
    response_model=ChecklistItemOut,
    responses=responses(ChecklistItemNotFound, ActorMismatch, UnsupportedMediaType),
)
async def update_checklist_item(
    item_key: Annotated[str, Path(max_length=64, examples=["rollback_decided"])],
    body: ChecklistItemUpdate,
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
) -> ChecklistItemOut:
    """Tick or untick an item, with a note (e.g. why no rollback).

    `by` is the actor: leave it out, or name only the person the request acts as.
    """
    by = actor.claim(body.by, field="body.by")
    item = await checklist_flows.update_item(session, incident, item_key, body, by=by)
    return ChecklistItemOut.model_validate(item)
