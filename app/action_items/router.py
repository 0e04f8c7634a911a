"""Action items: listed per incident or across incidents, created, read and changed."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse

from app.action_items import service
from app.action_items.models import ActionKind, ActionStatus, RolloutStatus
from app.action_items.schemas import ActionItemCreate, ActionItemOut, ActionItemUpdate
from app.action_items.service import ActionItemFilters, ActionItemNotFound
from app.core.actors import IncidentActor
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import Forbidden, InvalidInput, Unauthorized, responses
from app.core.handles import Handle
from app.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.incidents.deps import CurrentIncident, WritableIncident
from app.incidents.lookup import IncidentNotFound

incident_router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/action-items",
    tags=["action-items"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)
router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/action-items",
    tags=["action-items"],
    responses=responses(Unauthorized, Forbidden),
)


def _location(item: ActionItemOut) -> dict[str, str]:
    return {"Location": f"{API_PREFIX}/action-items/{item.id}"}


@incident_router.get("", response_model=Page[ActionItemOut], responses=responses(InvalidInput))
async def list_incident_action_items(
    session: SessionDep, incident: CurrentIncident, page: PageDep, _: ReadIncidents
) -> Page[ActionItemOut]:
    """The incident's action items, oldest first, each with its rollout per service."""
    rows = await service.list_for_incident(session, incident, page)
    return Page[ActionItemOut](
        items=await service.describe(session, rows.items), next_cursor=rows.next_cursor
    )


@incident_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionItemOut,
    responses=responses(InvalidInput, IdempotencyKeyReused),
)
async def create_action_item(
    body: ActionItemCreate,
    session: SessionDep,
    incident: WritableIncident,
    actor: IncidentActor,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Add an action item, optionally with the services it must be rolled out to."""
    item = await service.create_action_item(session, incident, body, actor=actor.handle)
    return await idempotency.respond(item, status_code=201, headers=_location(item))


@router.get("", response_model=Page[ActionItemOut], responses=responses(InvalidInput))
async def list_action_items(
    session: SessionDep,
    page: PageDep,
    _: ReadIncidents,
    item_status: Annotated[
        list[ActionStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
    kind: Annotated[list[ActionKind] | None, Query(description="Repeat for several")] = None,
    owner: Annotated[Handle | None, Query()] = None,
    rollout_service: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Items to be rolled out to this service"),
    ] = None,
    rollout_status: Annotated[
        list[RolloutStatus] | None,
        Query(description="Items with a rollout in this status (to `rollout_service` if given)"),
    ] = None,
    overdue: Annotated[
        bool | None,
        Query(description="true: unfinished and past due (UTC date); false: the others"),
    ] = None,
) -> Page[ActionItemOut]:
    """Action items across all incidents, newest first, filtered."""
    filters = ActionItemFilters(
        statuses=item_status,
        kinds=kind,
        owner=owner,
        rollout_service=rollout_service,
        rollout_statuses=rollout_status,
        overdue=overdue,
    )
    rows = await service.list_action_items(session, filters, page)
    return Page[ActionItemOut](
        items=await service.describe(session, rows.items), next_cursor=rows.next_cursor
    )


@router.get(
    "/{action_item_id}", response_model=ActionItemOut, responses=responses(ActionItemNotFound)
)
async def get_action_item(
    action_item_id: uuid.UUID, session: SessionDep, _: ReadIncidents
) -> ActionItemOut:
    """One action item with its rollout."""
    item, _incident = await service.get_action_item(session, action_item_id)
    (out,) = await service.describe(session, [item])
    return out


@router.patch(
    "/{action_item_id}",
    response_model=ActionItemOut,
    responses=responses(ActionItemNotFound, InvalidInput),
)
async def update_action_item(
    action_item_id: uuid.UUID,
    body: ActionItemUpdate,
    session: SessionDep,
    actor: IncidentActor,
) -> ActionItemOut:
    """Change fields or the rollout: entries are upserted per service, `remove` drops one."""
    item, incident = await service.get_action_item(session, action_item_id, for_update=True)
    return await service.update_action_item(session, incident, item, body, actor=actor.handle)
