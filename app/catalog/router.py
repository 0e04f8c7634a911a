"""The service catalog over HTTP, and the links on an incident."""

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse

from app.catalog import overview, service
from app.catalog.schemas import (
    IncidentLinkIn,
    IncidentLinkOut,
    ServiceCreate,
    ServiceOut,
    ServiceOverview,
    ServiceUpdate,
)
from app.catalog.service import ServiceExists, ServiceNotFound
from app.core.actors import IncidentActor
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import Forbidden, InvalidInput, Unauthorized, responses
from app.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, Principal, ReadIncidents, Scope, WriteIncidents
from app.incidents.deps import CurrentIncident, WritableIncident
from app.incidents.lookup import IncidentNotFound

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/services",
    tags=["services"],
    responses=responses(Unauthorized, Forbidden),
)
links_router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/links",
    tags=["incidents"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)


def _may_set_escalation(caller: Principal, sent: bool) -> None:
    """Escalation targets receive incident data: only `admin` keys name them."""
    if sent and not caller.can(Scope.ADMIN):
        raise Forbidden("Setting `escalation` needs the `admin` scope")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceOut,
    responses=responses(InvalidInput, ServiceExists, IdempotencyKeyReused),
)
async def create_service(
    body: ServiceCreate, session: SessionDep, caller: WriteIncidents, idempotency: IdempotencyDep
) -> JSONResponse:
    """Add a service to the catalog, or describe one only seen so far (409 if described)."""
    _may_set_escalation(caller, body.escalation is not None)
    out = ServiceOut.of(await service.create_service(session, body))
    return await idempotency.respond(
        out, status_code=201, headers={"Location": f"{API_PREFIX}/services/{out.name}"}
    )


@router.get("", response_model=Page[ServiceOut], responses=responses(InvalidInput))
async def list_services(
    session: SessionDep,
    page: PageDep,
    _: ReadIncidents,
    unowned: Annotated[
        bool | None,
        Query(description="true: services no team owns (e.g. seen first in an alert)"),
    ] = None,
    owner_team: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Page[ServiceOut]:
    """The catalog in name order, filtered."""
    rows = await service.list_services(session, page, unowned=unowned, owner_team=owner_team)
    return rows.to_page(ServiceOut.of)


@router.get("/{name}", response_model=ServiceOut, responses=responses(ServiceNotFound))
async def get_service(name: str, session: SessionDep, _: ReadIncidents) -> ServiceOut:
    """One service by the name alerts, deploys and incidents use."""
    return ServiceOut.of(await service.get_service(session, name))


@router.get(
    "/{name}/overview", response_model=ServiceOverview, responses=responses(ServiceNotFound)
)
async def get_service_overview(name: str, session: SessionDep, _: ReadIncidents) -> ServiceOverview:
    """The service page: open and recent incidents, recent deploys, measures still to roll
    out here, and rollback readiness (last verified rollback, bus factor, rehearsal due)."""
    return await overview.overview(session, name)


@router.patch(
    "/{name}", response_model=ServiceOut, responses=responses(ServiceNotFound, InvalidInput)
)
async def update_service(
    name: str, body: ServiceUpdate, session: SessionDep, caller: WriteIncidents
) -> ServiceOut:
    """Describe a service: only the fields sent change (`null` clears an optional one)."""
    _may_set_escalation(caller, "escalation" in body.model_fields_set)
    return ServiceOut.of(await service.update_service(session, name, body))


@links_router.get("", response_model=Page[IncidentLinkOut], responses=responses(InvalidInput))
async def list_incident_links(
    session: SessionDep, incident: CurrentIncident, page: PageDep, _: ReadIncidents
) -> Page[IncidentLinkOut]:
    """Runbooks, dashboards and other pages for the incident, oldest first."""
    rows = await service.list_links(session, incident, page)
    return rows.to_page(IncidentLinkOut.model_validate)


@links_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentLinkOut,
    responses={
        200: {"model": IncidentLinkOut, "description": "The incident has a link with this URL"},
        **responses(InvalidInput),
    },
)
async def add_incident_link(
    body: IncidentLinkIn, session: SessionDep, incident: WritableIncident, actor: IncidentActor
) -> JSONResponse:
    """Add a link to the incident; a URL it already has answers with that link (200).

    Its `source` is the request's actor.
    """
    link, created = await service.add_link(session, incident, body, source=actor.handle)
    out = IncidentLinkOut.model_validate(link)
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )
