"""Contributing factors of an incident, and the taxonomy they are filed under."""

import uuid

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from app.contributing_factors import service
from app.contributing_factors.schemas import FactorCreate, FactorOut
from app.contributing_factors.service import FactorNotFound, UnknownCategory
from app.contributing_factors.taxonomy import Category
from app.core.actors import IncidentActor
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import Forbidden, InvalidInput, Unauthorized, responses
from app.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.incidents.deps import CurrentIncident, TaxonomyDep, WritableIncident
from app.incidents.lookup import IncidentNotFound

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/contributing-factors",
    tags=["contributing-factors"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)
categories_router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/contributing-factors",
    tags=["contributing-factors"],
    responses=responses(Unauthorized, Forbidden),
)


@categories_router.get("/categories", response_model=list[Category])
async def list_categories(taxonomy: TaxonomyDep, _: ReadIncidents) -> list[Category]:
    """The categories a contributing factor may have (`MUSTER_CONTRIBUTING_FACTORS`)."""
    return taxonomy.categories


@router.get("", response_model=Page[FactorOut], responses=responses(InvalidInput))
async def list_factors(
    session: SessionDep, incident: CurrentIncident, page: PageDep, _: ReadIncidents
) -> Page[FactorOut]:
    """The incident's contributing factors, oldest first."""
    rows = await service.list_factors(session, incident, page)
    return rows.to_page(lambda factor: FactorOut.of(factor, incident.reference))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FactorOut,
    responses=responses(UnknownCategory, IdempotencyKeyReused),
)
async def add_factor(
    body: FactorCreate,
    session: SessionDep,
    incident: WritableIncident,
    actor: IncidentActor,
    idempotency: IdempotencyDep,
    taxonomy: TaxonomyDep,
) -> JSONResponse:
    """Name a contributing factor; an unknown category is a 422 listing the allowed ones."""
    factor = await service.add_factor(session, incident, body, taxonomy=taxonomy, actor=actor)
    location = f"{API_PREFIX}/incidents/{incident.reference}/contributing-factors/{factor.id}"
    return await idempotency.respond(factor, status_code=201, headers={"Location": location})


@router.get("/{factor_id}", response_model=FactorOut, responses=responses(FactorNotFound))
async def get_factor(
    factor_id: uuid.UUID, session: SessionDep, incident: CurrentIncident, _: ReadIncidents
) -> FactorOut:
    """One contributing factor of the incident."""
    return FactorOut.of(await service.get_factor(session, incident, factor_id), incident.reference)


@router.delete(
    "/{factor_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(FactorNotFound),
)
async def remove_factor(
    factor_id: uuid.UUID, session: SessionDep, incident: WritableIncident, actor: IncidentActor
) -> Response:
    """Remove a contributing factor; action items addressing it then address nothing."""
    await service.remove_factor(session, incident, factor_id, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
