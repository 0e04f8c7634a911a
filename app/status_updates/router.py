"""Stakeholder updates on an incident: publish one, list them."""

from fastapi import APIRouter, status

from app.core.actors import IncidentActor
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized, UnsupportedMediaType, responses
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.flows import incidents as incident_flows
from app.incidents.deps import CurrentIncident, LockedIncident, PolicyDep
from app.incidents.lookup import IncidentNotFound
from app.incidents.service import InvalidTransition
from app.status_updates import service
from app.status_updates.schemas import UpdateCreate, UpdateOut

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/updates",
    tags=["updates"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UpdateOut,
    responses=responses(UnsupportedMediaType, InvalidTransition),
)
async def publish_update(
    body: UpdateCreate,
    session: SessionDep,
    incident: LockedIncident,
    policy: PolicyDep,
    actor: IncidentActor,
) -> UpdateOut:
    """Publish an update for its audience, optionally moving the status or severity with it."""
    update = await incident_flows.publish_update(
        session, incident, body, policy=policy, actor=actor.handle, via=actor.via
    )
    return UpdateOut.of(update)


@router.get("", response_model=Page[UpdateOut])
async def list_updates(
    session: SessionDep, incident: CurrentIncident, page: PageDep, _: ReadIncidents
) -> Page[UpdateOut]:
    """The incident's updates, oldest first."""
    rows = await service.list_updates(session, incident, page)
    return rows.to_page(UpdateOut.of)
